package cli

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/core"
	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/store"
	"github.com/roster-dev/roster/internal/store/postgres"
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
	// Org is the slug of the organisation to act in: --org, ROSTER_ORG,
	// the context's, then the config file's org:; "" is one's own (a
	// token's user's, or locally the system organisation).
	Org string
	// OrgGiven is Org as --org, ROSTER_ORG or the file's org: gave it,
	// without a context's: the organisation roster login signs in to.
	OrgGiven string
	// orgExplicit: --org or ROSTER_ORG gave it, which beats a context's.
	orgExplicit bool

	// Remote mode: a server, and the token to send it, from --server or a
	// context. Server empty means local mode.
	Server   string
	Token    string
	Context  string // the context in use, if any
	Insecure bool
	// File is the config file read (or to write contexts to).
	File     string
	Contexts map[string]ContextEntry
	Current  string // current-context of the file

	// Host holds the host settings (R16) of the environment and the config
	// file, for roster serve.
	Host map[string]string
	// OIDC are the identity providers of the config file (oidc:
	// {NAME: ISSUER}), for roster serve.
	OIDC map[string]string
}

// ContextEntry is a saved server, its token and the organisation the
// token acts in.
type ContextEntry struct {
	Server string `mapstructure:"server" yaml:"server"`
	Token  string `mapstructure:"token" yaml:"token"`
	Org    string `mapstructure:"org" yaml:"org,omitempty"`
}

// Factory gives commands their dependencies as functions, so --help and
// completion scripts never open the store.
type Factory struct {
	IO *IOStreams

	flags *pflag.FlagSet // the root's persistent flags, bound into viper

	cfgOnce sync.Once
	cfg     *Config
	cfgErr  error

	db store.Admin
	// cores are the local cores made over db, whose queued refusals Close
	// records.
	cores []*core.Core

	now func() time.Time

	wrap func(roster.Service) roster.Service // see Options.wrap

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
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	for _, key := range []string{"db", "output", "as", "yes", "quiet", "config", "server", "token-file", "context", "insecure", "org"} {
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
	cfg := &Config{DB: v.GetString("db"), As: v.GetString("as"), Yes: v.GetBool("yes"), Quiet: v.GetBool("quiet"),
		Server: v.GetString("server"), Insecure: v.GetBool("insecure"), File: path, Current: v.GetString("current-context"),
		OrgGiven: strings.TrimSpace(v.GetString("org")), orgExplicit: f.flags.Changed("org") || os.Getenv("ROSTER_ORG") != ""}
	if err := readHostSettings(v, cfg); err != nil {
		return nil, err
	}
	cfg.OIDC = v.GetStringMapString("oidc")
	if err := v.UnmarshalKey("contexts", &cfg.Contexts); err != nil {
		return nil, usagef("config file %s: contexts: %v", path, err)
	}
	m, err := f.remoteMode(v)
	if err != nil {
		return nil, err
	}
	if m.remote {
		if err := resolveRemote(cfg, m, v.GetString("context"), v.GetString("token-file"), v.GetString("token")); err != nil {
			return nil, err
		}
	} else {
		cfg.Server = ""
	}
	if cfg.Org == "" {
		cfg.Org = cfg.OrgGiven
	}
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
	if cfg.DB == "" && cfg.Server == "" {
		return nil, usagef("no store: set --db or ROSTER_DB")
	}
	return cfg, nil
}

// Where a setting comes from, weakest first.
const (
	fromDefault = iota
	fromFile
	fromEnv
	fromFlag
)

// remoteMode decides between the local store and a server by where each
// was named: the most specific source wins, a flag over the environment
// over the config file (whose saved contexts count as the file). At the
// same level the server wins, except that --db and --server (or
// --context) both given as flags contradict each other. So an explicit
// --db or ROSTER_DB is local mode even with a current context saved.
func (f *Factory) remoteMode(v *viper.Viper) (mode, error) {
	level := func(key string) int {
		switch {
		case f.flags.Changed(key):
			return fromFlag
		case os.Getenv("ROSTER_"+strings.ToUpper(strings.ReplaceAll(key, "-", "_"))) != "":
			return fromEnv
		case v.InConfig(key):
			return fromFile
		}
		return fromDefault
	}
	db, server, context := level("db"), level("server"), level("context")
	remote := max(server, context)
	if remote == fromFile && v.GetString("server") == "" && v.GetString("context") == "" {
		remote = fromDefault // keys present in the file but empty
	}
	if remote < fromFile && v.GetString("current-context") != "" {
		remote = fromFile
	}
	if db == fromFlag && remote == fromFlag {
		other := "--server"
		if !f.flags.Changed("server") {
			other = "--context"
		}
		return mode{}, usagef("--db and %s cannot be used together", other).
			withHint("--db acts on a local store, --server and --context on a server: give one")
	}
	return mode{remote: remote > fromDefault && remote >= db, contextWins: context > server}, nil
}

// mode is remoteMode's decision.
type mode struct {
	remote bool
	// contextWins: --context or ROSTER_CONTEXT was given at a more specific
	// level than --server, so the context names the server and its token.
	contextWins bool
}

// resolveRemote picks the server and token: --server (with --token-file or
// ROSTER_TOKEN) beats --context given at the same or a less specific
// level, which beats the file's current context.
func resolveRemote(cfg *Config, m mode, context, tokenFile, token string) error {
	name := context
	if name == "" && cfg.Server == "" {
		name = cfg.Current
	}
	if name != "" {
		c, ok := cfg.Contexts[name]
		if !ok {
			return usagef("no context %q", name).withHint("see roster context list, or save one with roster login")
		}
		cfg.Context = name
		if cfg.Server == "" || m.contextWins {
			cfg.Server = c.Server
		}
		if token == "" || m.contextWins {
			token = c.Token
		}
		// The context's organisation is that of its token, unless --org
		// or ROSTER_ORG names another; it beats the file's org:, which is
		// less specific.
		cfg.Org = c.Org
		if cfg.orgExplicit {
			cfg.Org = cfg.OrgGiven
		}
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return usagef("read token file: %v", err)
		}
		token = strings.TrimSpace(string(b))
	}
	cfg.Token = token
	return nil
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
func (f *Factory) Store(ctx context.Context, create bool) (store.Admin, error) {
	if f.db != nil {
		return f.db, nil
	}
	cfg, err := f.localConfig()
	if err != nil {
		return nil, err
	}
	if !create {
		if err := storeExists(cfg.DB); err != nil {
			return nil, err
		}
	}
	db, err := openStore(ctx, cfg.DB, true)
	if err != nil {
		return nil, err
	}
	f.db = db
	return db, nil
}

// localConfig is the configuration of a command that acts on the store
// file itself, which remote mode cannot do.
func (f *Factory) localConfig() (*Config, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	if cfg.Server != "" {
		return nil, usagef("this command acts on a local store, not on a server").
			withHint("run it on the server's host, without --server or a context")
	}
	return cfg, nil
}

// openStore opens the store --db names: a postgres:// URL is a PostgreSQL
// database, anything else a SQLite file. With migrate unset the schema is
// left as found, for roster db.
func openStore(ctx context.Context, db string, migrate bool) (store.Admin, error) {
	switch {
	case store.IsURL(db) && migrate:
		return postgres.Open(ctx, db)
	case store.IsURL(db):
		return postgres.OpenNoMigrate(ctx, db)
	case migrate:
		return sqlite.Open(ctx, db)
	}
	return sqlite.OpenNoMigrate(ctx, db)
}

// storeExists refuses a store file that is not there: a mistyped --db
// should not make a new empty store. A database server's existence is
// its own to report.
//
// A --db naming nothing is invalid input (exit 2), as an import FILE or a
// --password-file that is not there is: the command line is wrong, and
// running it again will not help. It is not "not found" (3), which scripts
// read as "no such user, role or project in the store", nor "unavailable"
// (7), which is a store that exists but cannot be used now: locked,
// unreadable, on a full disk.
func storeExists(path string) error {
	if store.IsURL(path) {
		return nil
	}
	_, err := os.Stat(path)
	if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return roster.Errorf(roster.ErrInvalid, "no store at %s: directory %s does not exist", path, dir).
			WithHint("check --db (or ROSTER_DB); roster init creates a store")
	}
	return roster.Errorf(roster.ErrInvalid, "no store at %s", path).
		WithHint("create one with roster init, or point --db (or ROSTER_DB) at an existing store")
}

// printError reports err on stderr in the form -o asks for.
func (f *Factory) printError(err error, cmdPath string) {
	printError(f.IO.ErrOut, err, cmdPath, f.jsonErrors())
}

// jsonErrors reports whether errors go to stderr as JSON: with -o json a
// script reads the API's error shape and branches on its code.
func (f *Factory) jsonErrors() bool {
	cfg, err := f.Config()
	return err == nil && cfg.Output == output.JSON
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
	return f.serviceIn(ctx, create, cfg.Org)
}

// serviceIn is the Service acting in the organisation org ("" one's own).
func (f *Factory) serviceIn(ctx context.Context, create bool, org string) (roster.Service, error) {
	svc, err := f.newService(ctx, create, org)
	if err != nil || f.wrap == nil {
		return svc, err
	}
	return f.wrap(svc), nil
}

func (f *Factory) newService(ctx context.Context, create bool, org string) (roster.Service, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	if cfg.Server != "" {
		if cfg.As != "" {
			return nil, usagef("--as acts in local mode only").
				withHint("in remote mode you act as the token's user; leave out --server to act on a local store")
		}
		return client.New(cfg.Server, client.Options{Token: cfg.Token, Insecure: cfg.Insecure, Org: org})
	}
	db, err := f.Store(ctx, create)
	if err != nil {
		return nil, err
	}
	c := core.New(db, core.WithClock(f.now))
	f.cores = append(f.cores, c)
	return c.As(core.Actor{User: cfg.As, Name: "local:" + osUser(), Org: org}), nil
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
	// A refusal is audited after its transaction: before the store closes.
	for _, c := range f.cores {
		c.FlushDenials()
	}
	if f.db != nil {
		f.db.Close()
	}
}
