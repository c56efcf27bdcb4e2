package cli

import (
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/roster-dev/roster/internal/roster"
)

// Host settings (R16) reach roster serve from its flags, the environment
// and the config file, in that order of precedence; the stored ones fill
// in what none of those gives. mail.password_file is not among them: the
// server's SMTP password comes from --mail-password-file or
// ROSTER_MAIL_PASSWORD, read once at start.

// hostKeys are the host settings roster serve takes as flags.
func hostKeys() []string {
	var keys []string
	for _, spec := range roster.SettingSpecs {
		if spec.Host && spec.Key != "mail.password_file" {
			keys = append(keys, spec.Key)
		}
	}
	return keys
}

// hostFlagName is a host setting's flag: mail.host is --mail-host.
func hostFlagName(key string) string { return strings.NewReplacer(".", "-", "_", "-").Replace(key) }

// hostEnv is a host setting's environment variable: ROSTER_MAIL_HOST.
func hostEnv(key string) string {
	return "ROSTER_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))
}

// addHostFlags defines roster serve's host setting flags, into set.
func addHostFlags(fs *pflag.FlagSet, set map[string]*string) {
	for _, key := range hostKeys() {
		spec, _ := roster.LookupSetting(key)
		v := new(string)
		set[key] = v
		fs.StringVar(v, hostFlagName(key), "", spec.Describe+" (host setting; default: $"+hostEnv(key)+", the config file's "+key+", else the stored setting)")
	}
}

// readHostSettings reads the host settings of the environment and the
// config file into cfg.Host.
func readHostSettings(v *viper.Viper, cfg *Config) error {
	cfg.Host = map[string]string{}
	for _, key := range hostKeys() {
		if err := v.BindEnv(key, hostEnv(key)); err != nil {
			return err
		}
		if val := v.GetString(key); val != "" {
			cfg.Host[key] = val
		}
	}
	return nil
}

// hostSettings merges the flags given over cfg.Host, and checks each value
// as settings set would.
func hostSettings(fs *pflag.FlagSet, flags map[string]*string, cfg *Config) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range cfg.Host {
		out[k] = v
	}
	for key, v := range flags {
		if fs.Changed(hostFlagName(key)) {
			out[key] = *v
		}
	}
	for key, val := range out {
		spec, _ := roster.LookupSetting(key)
		if err := spec.Check(val); err != nil {
			return nil, usagef("invalid %s for roster serve: %v", key, err).
				withHint("give it with --%s, $%s or %s in the config file", hostFlagName(key), hostEnv(key), key)
		}
	}
	return out, nil
}
