package cli

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store/sqlite"
)

// Config is the resolved configuration: flag > ROSTER_* env > config file
// > default.
type Config struct {
	DB     string
	Output output.Format
	As     string
	Yes    bool
	Quiet  bool
}

// Factory gives commands their dependencies as functions, so --help and
// completion scripts never open the store.
type Factory struct {
	IO *IOStreams

	flags *pflag.FlagSet // the root's persistent flags, bound into viper

	cfgOnce sync.Once
	cfg     *Config
	cfgErr  error

	db *sqlite.DB

	now func() time.Time

	// started is set once cobra has parsed and validated the command line
	// and begins running the command; errors before that are usage errors.
	started bool
}

func newFactory(io *IOStreams, flags *pflag.FlagSet) *Factory {
	return &Factory{IO: io, flags: flags, now: time.Now}
}

// Config resolves the configuration once.
func (f *Factory) Config() (*Config, error) {
	f.cfgOnce.Do(func() { f.cfg, f.cfgErr = f.loadConfig() })
	return f.cfg, f.cfgErr
}

func (f *Factory) loadConfig() (*Config, error) {
	v := viper.New()
	v.SetEnvPrefix("roster")
	v.AutomaticEnv()
	for _, key := range []string{"db", "output", "as", "yes", "quiet", "config"} {
		if err := v.BindPFlag(key, f.flags.Lookup(key)); err != nil {
			return nil, err
		}
	}
	v.SetDefault("db", defaultDBPath())
	path, explicit := v.GetString("config"), true
	if path == "" {
		path, explicit = defaultConfigPath(), false
	}
	if path != "" {
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		err := v.ReadInConfig()
		var notFound *os.PathError
		switch {
		case err == nil:
		case !explicit && errors.As(err, &notFound):
		default:
			return nil, usagef("read config file %s: %v", path, err)
		}
	}
	cfg := &Config{DB: v.GetString("db"), As: v.GetString("as"), Yes: v.GetBool("yes"), Quiet: v.GetBool("quiet")}
	if o := v.GetString("output"); o != "" {
		format, ok := output.ParseFormat(o)
		if !ok {
			return nil, usagef("invalid output format %q", o).withHint("use table, tsv, json, yaml, csv or name")
		}
		cfg.Output = format
	} else if f.IO.IsStdoutTTY() {
		cfg.Output = output.Table
	} else {
		cfg.Output = output.TSV
	}
	if cfg.DB == "" {
		return nil, usagef("no store: set --db or ROSTER_DB")
	}
	return cfg, nil
}

func xdgDir(env, fallback string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, fallback)
}

func defaultDBPath() string {
	d := xdgDir("XDG_DATA_HOME", ".local/share")
	if d == "" {
		return ""
	}
	return filepath.Join(d, "roster", "roster.db")
}

func defaultConfigPath() string {
	d := xdgDir("XDG_CONFIG_HOME", ".config")
	if d == "" {
		return ""
	}
	return filepath.Join(d, "roster", "config.yaml")
}

// Printer returns a printer for the configured format.
func (f *Factory) Printer() (*output.Printer, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	return &output.Printer{W: f.IO.Out, Format: cfg.Output}, nil
}

// Store opens the local store. Unless create is set, a missing file is an
// error: a mistyped --db should not make a new empty store.
func (f *Factory) Store(ctx context.Context, create bool) (*sqlite.DB, error) {
	if f.db != nil {
		return f.db, nil
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	if !create {
		if err := storeExists(cfg.DB); err != nil {
			return nil, err
		}
	}
	db, err := sqlite.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	f.db = db
	return db, nil
}

func storeExists(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return roster.Errorf(roster.ErrNotFound, "no store at %s", path).
			WithHint("create one with roster init, or point --db at an existing store")
	}
	return nil
}

// Service returns the roster.Service commands use, acting as --as or as
// the local administrator.
func (f *Factory) Service(ctx context.Context) (roster.Service, error) {
	return f.service(ctx, false)
}

func (f *Factory) service(ctx context.Context, create bool) (roster.Service, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	db, err := f.Store(ctx, create)
	if err != nil {
		return nil, err
	}
	return core.New(db, core.WithClock(f.now)).As(core.Actor{User: cfg.As, Name: "local:" + osUser()}), nil
}

func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// Close releases what the factory opened.
func (f *Factory) Close() {
	if f.db != nil {
		f.db.Close()
	}
}
