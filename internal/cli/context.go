package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/roster-dev/roster/internal/client"
	"github.com/roster-dev/roster/internal/output"
	"github.com/roster-dev/roster/internal/roster"
)

// saveContexts writes the contexts and current context into the config
// file, keeping its other keys. The file holds tokens: it is written 0600
// in a 0700 directory, whole, by rename.
func saveContexts(path string, contexts map[string]ContextEntry, current string) error {
	if path == "" {
		return usagef("no config file: set --config or XDG_CONFIG_HOME")
	}
	doc := map[string]any{}
	if b, err := os.ReadFile(path); err == nil {
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return usagef("config file %s: %v", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if doc == nil {
		doc = map[string]any{}
	}
	doc["contexts"] = contexts
	if current == "" {
		delete(doc, "current-context")
	} else {
		doc["current-context"] = current
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".config-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

type loginOptions struct {
	context, email string
	passwordEnv    string
	passwordStdin  bool
	tokenStdin     bool
	web            bool
}

func newCmdLogin(f *Factory) *cobra.Command {
	opts := &loginOptions{}
	cmd := &cobra.Command{
		Use:   "login [SERVER]",
		Short: "Sign in to a roster server and save it as a context",
		Long: `Sign in to a roster server and save its address and an API token as a
context in the config file (0600), made current. The token comes from
--token-stdin, or is made by signing in with --email and a password from
--password-stdin or a prompt, or, with --web, approved in a browser.

With --web no secret is typed into the terminal: roster prints a code and
an address (on stderr), a person opens the address in any browser, on any
machine, signs in there by any method the organisation offers (a password,
a mailed link, an identity provider), checks the code, the token's name,
lifetime and the host that asks, and approves. roster waits for that, for
up to 10 minutes, then saves the token. It works over SSH: no browser is
started here.

With --org the sign-in is to that organisation's account of the email (the
same email may hold one in several), or, with a system administrator's
token, the context acts in that organisation. The context records the
organisation its commands act in: --org's, else the token's own.`,
		Example: `  roster login https://roster.example.com --email admin@example.com
  roster login https://roster.example.com --org acme --email ann@acme.example
  roster login https://roster.example.com --context prod --token-stdin < token.txt
  roster login https://roster.example.com --web`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("login takes at most one argument: SERVER")
			}
			return nil
		},
		ValidArgsFunction: positional(f, false, savedServer),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.passwordStdin && opts.tokenStdin {
				return usagef("give --password-stdin or --token-stdin, not both")
			}
			return loginRun(cmd, f, opts, args)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opts.context, "context", "", "save as context `NAME` (default: the server's host)")
	fs.StringVar(&opts.email, "email", "", "sign in as `EMAIL`")
	fs.BoolVar(&opts.passwordStdin, "password-stdin", false, "read the password from standard input")
	fs.StringVar(&opts.passwordEnv, "password-env", "", "read the password from the environment variable `NAME` (for CI)")
	cmd.MarkFlagsMutuallyExclusive("password-stdin", "password-env")
	fs.BoolVar(&opts.tokenStdin, "token-stdin", false, "read an API token from standard input instead of signing in")
	fs.BoolVar(&opts.web, "web", false, "get the token approved in a browser, with a code this prints")
	cmd.MarkFlagsMutuallyExclusive("web", "email")
	cmd.MarkFlagsMutuallyExclusive("web", "token-stdin")
	cmd.MarkFlagsMutuallyExclusive("web", "password-stdin")
	cmd.MarkFlagsMutuallyExclusive("web", "password-env")
	return cmd
}

func loginRun(cmd *cobra.Command, f *Factory, opts *loginOptions, args []string) error {
	ctx := cmd.Context()
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	server := cfg.Server
	if len(args) == 1 {
		server = args[0]
	}
	if server == "" {
		return usagef("no server to sign in to").withHint("give SERVER, such as https://roster.example.com")
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("invalid server %q", server).withHint("give an http or https URL")
	}
	name := opts.context
	if name == "" {
		name = u.Hostname()
	}
	var tok string
	switch {
	case opts.tokenStdin:
		b, err := io.ReadAll(io.LimitReader(f.IO.In, maxSecret))
		if err != nil {
			return usagef("read token: %v", err)
		}
		tok = strings.TrimSpace(string(b))
	case opts.web:
		anon, err := client.New(server, client.Options{Insecure: cfg.Insecure, Org: cfg.OrgGiven})
		if err != nil {
			return err
		}
		if tok, err = webLogin(ctx, f, anon); err != nil {
			return err
		}
	default:
		if opts.email == "" {
			return usagef("no email to sign in with").withHint("give --email, or --token-stdin")
		}
		pw := passwordSource{stdin: opts.passwordStdin, env: opts.passwordEnv, flags: []string{"password-stdin", "password-env", "token-stdin"}}
		if !pw.given() && !f.IO.CanPrompt() {
			return pw.missing()
		}
		secret := ""
		if pw.given() {
			secret, err = pw.read(f)
		} else {
			secret, err = f.IO.Secret("Password: ")
		}
		if err != nil {
			return err
		}
		anon, err := client.New(server, client.Options{Insecure: cfg.Insecure, Org: cfg.OrgGiven})
		if err != nil {
			return err
		}
		t, err := anon.SignIn(ctx, opts.email, secret, "login from roster")
		if err != nil {
			return err
		}
		tok = t.Token
	}
	c, err := client.New(server, client.Options{Token: tok, Insecure: cfg.Insecure, Org: cfg.OrgGiven})
	if err != nil {
		return err
	}
	who, err := c.Whoami(ctx)
	if err != nil {
		return err
	}
	org := who.Org // where the token acts, as the server says
	if org == "" {
		org = cfg.OrgGiven
	}
	contexts := cfg.Contexts
	if contexts == nil {
		contexts = map[string]ContextEntry{}
	}
	contexts[name] = ContextEntry{Server: server, Token: tok, Org: org}
	if err := saveContexts(cfg.File, contexts, name); err != nil {
		return err
	}
	in := ""
	if org != "" {
		in = " in organisation " + org
	}
	f.infof("signed in to %s as %s%s; context %s saved in %s", server, who.Name, in, name, cfg.File)
	return f.printOne(who, principalRows(who))
}

func newCmdLogout(f *Factory) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Forget the token of a saved context",
		Long: `Forget the token saved for a context (default: the current one), keeping its
server. The token itself stays valid until revoked: roster token revoke ID.`,
		Example: `  roster logout
  roster logout --context staging`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			if name == "" {
				name = cfg.Current
			}
			c, err := cfg.savedContext(name)
			if err != nil {
				return err
			}
			c.Token = ""
			cfg.Contexts[name] = c
			if err := saveContexts(cfg.File, cfg.Contexts, cfg.Current); err != nil {
				return err
			}
			f.infof("forgot the token of context %s", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "context", "", "the context `NAME` (default: the current one)")
	_ = cmd.RegisterFlagCompletionFunc("context", completeContexts(f))
	return cmd
}

func newCmdContext(f *Factory) *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List saved contexts",
		Example: `  roster context list
  roster context list -o json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			type entry struct {
				Name     string `json:"name"`
				Server   string `json:"server"`
				Org      string `json:"org"`
				Current  bool   `json:"current"`
				HasToken bool   `json:"has_token"`
			}
			names := make([]string, 0, len(cfg.Contexts))
			for n := range cfg.Contexts {
				names = append(names, n)
			}
			sort.Strings(names)
			out := []entry{}
			rows := output.Rows{Header: []string{"NAME", "SERVER", "ORG", "CURRENT", "TOKEN"}}
			for _, n := range names {
				c := cfg.Contexts[n]
				e := entry{Name: n, Server: c.Server, Org: c.Org, Current: n == cfg.Current, HasToken: c.Token != ""}
				out = append(out, e)
				rows.Add(n, n, c.Server, c.Org, fmt.Sprint(e.Current), fmt.Sprint(e.HasToken))
			}
			return f.printList(out, rows)
		},
	}
	use := &cobra.Command{
		Use:               "use NAME",
		Short:             "Make a saved context current",
		Example:           `  roster context use prod`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: completeContexts(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			if _, err := cfg.savedContext(args[0]); err != nil {
				return err
			}
			if cfg.Current == args[0] {
				f.infof("context %s is already current, unchanged", args[0])
				return nil
			}
			if err := saveContexts(cfg.File, cfg.Contexts, args[0]); err != nil {
				return err
			}
			f.infof("now using context %s", args[0])
			return nil
		},
	}
	del := &cobra.Command{
		Use:               "delete NAME",
		Short:             "Delete a saved context and its token",
		Example:           `  roster context delete staging`,
		Args:              exactArgs(1, "NAME"),
		ValidArgsFunction: completeContexts(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			if _, err := cfg.savedContext(args[0]); err != nil {
				return err
			}
			delete(cfg.Contexts, args[0])
			current := cfg.Current
			if current == args[0] {
				current = ""
			}
			if err := saveContexts(cfg.File, cfg.Contexts, current); err != nil {
				return err
			}
			f.infof("deleted context %s", args[0])
			return nil
		},
	}
	return withExample(group("context", "contexts", "List, switch and delete saved servers", list, use, del),
		`  roster context list
  roster context use prod`)
}

// savedContext finds a saved context by name.
func (cfg *Config) savedContext(name string) (ContextEntry, error) {
	c, ok := cfg.Contexts[name]
	if !ok {
		return c, roster.Errorf(roster.ErrNotFound, "no context %q", name).WithHint("see roster context list")
	}
	return c, nil
}
