package cli

import (
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// passwordSource is where a command gets a password: never the command
// line itself.
type passwordSource struct {
	stdin  bool
	file   string
	env    string // the name of an environment variable holding it
	random bool
	none   bool

	flags []string // the source flags the command offers

	// stdinTaken: standard input carries something else (--link-file -),
	// so a prompt needs a terminal of its own.
	stdinTaken bool
}

// canPrompt reports whether the password can be asked for.
func (s *passwordSource) canPrompt(f *Factory) bool {
	if s.stdinTaken {
		return f.IO.canPromptOnTTY()
	}
	return f.IO.CanPrompt()
}

// addFlags registers the source flags; withNone adds --no-password.
func (s *passwordSource) addFlags(cmd *cobra.Command, withRandom, withNone bool) {
	fs := cmd.Flags()
	fs.BoolVar(&s.stdin, "password-stdin", false, "read the password from standard input")
	fs.StringVar(&s.file, "password-file", "", "read the password from `file`")
	fs.StringVar(&s.env, "password-env", "", "read the password from the environment variable `NAME` (for CI)")
	names := []string{"password-stdin", "password-file", "password-env"}
	if withRandom {
		fs.BoolVar(&s.random, "random-password", false, "generate a password and print it once")
		names = append(names, "random-password")
	}
	if withNone {
		fs.BoolVar(&s.none, "no-password", false, "create the account without a password")
		names = append(names, "no-password")
	}
	cmd.MarkFlagsMutuallyExclusive(names...)
	s.flags = names
}

func (s *passwordSource) given() bool {
	return s.stdin || s.file != "" || s.env != "" || s.random || s.none
}

// maxSecret bounds what --password-stdin reads: a password is at most 256
// characters, 1,024 bytes in UTF-8.
const maxSecret = 4096

// read returns the password (empty for --random-password or --no-password).
// With no source it prompts when a person can answer; otherwise it is a
// usage error at once, never a hang on stdin.
func (s *passwordSource) read(f *Factory) (string, error) {
	switch {
	case s.stdin:
		b, err := io.ReadAll(io.LimitReader(f.IO.In, maxSecret+1))
		if err != nil {
			return "", usagef("read password from stdin: %v", err)
		}
		if len(b) > maxSecret {
			return "", usagef("password on stdin is longer than %d bytes", maxSecret)
		}
		pw := trimNewline(string(b))
		if pw == "" {
			return "", usagef("no password on stdin")
		}
		return pw, nil
	case s.file != "":
		return readSecretFile(s.file)
	case s.env != "":
		// The caller names the variable, so a CI secret never reaches argv
		// and roster claims no variable name of its own for it.
		pw, ok := os.LookupEnv(s.env)
		if !ok || pw == "" {
			return "", usagef("the environment variable %s is unset or empty", s.env).
				withHint("export it before running roster, or use another password source")
		}
		return trimNewline(pw), nil
	case s.random, s.none:
		return "", nil
	}
	if !s.canPrompt(f) {
		return "", s.missing()
	}
	pw, err := f.IO.Secret("New password: ")
	if err != nil {
		return "", usagef("read password: %v", err)
	}
	again, err := f.IO.Secret("Repeat password: ")
	if err != nil {
		return "", usagef("read password: %v", err)
	}
	if pw != again {
		return "", usagef("the passwords differ")
	}
	return pw, nil
}

func (s *passwordSource) missing() error {
	opts := make([]string, len(s.flags))
	for i, f := range s.flags {
		opts[i] = "--" + f
	}
	last := len(opts) - 1
	hint := "give " + strings.Join(opts[:last], ", ") + " or " + opts[last]
	return usagef("no password source and no terminal to ask on").withHint("%s", hint)
}
