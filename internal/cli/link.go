package cli

import (
	"context"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/roster-dev/roster/internal/roster"
	"github.com/roster-dev/roster/internal/token"
)

// linkKind is what a command redeems: an invitation or a reset link.
type linkKind struct {
	noun    string     // "an invitation link"
	path    string     // the path segment before the token in its URL
	prefix  token.Kind // the prefix of its token
	command string     // the command that redeems it
}

var (
	inviteLink = linkKind{noun: "an invitation link", path: "invite", prefix: token.Invitation, command: "roster invite accept"}
	resetLink  = linkKind{noun: "a reset link", path: "reset", prefix: token.Reset, command: "roster account reset"}
	linkKinds  = []linkKind{inviteLink, resetLink}
)

// maxLink bounds what --link-file reads: a URL with a 70-character token.
const maxLink = 4096

// linkSource is where a command gets a link. A link is a secret: on the
// command line any local user sees it in ps, so the positional form warns
// and --link-file is the way to give one.
type linkSource struct {
	kind linkKind
	file string
}

func (s *linkSource) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&s.file, "link-file", "", "read the link (its URL or token) from `file`, or - for standard input")
}

// check validates the sources before anything is read: one link, and
// standard input for at most one secret.
func (s *linkSource) check(args []string, pw *passwordSource) error {
	switch {
	case len(args) > 0 && s.file != "":
		return usagef("give the link as an argument or with --link-file, not both").
			withHint("use --link-file alone: an argument is visible to other users of this machine")
	case len(args) == 0 && s.file == "":
		return usagef("no link given").
			withHint("save the link in a file and give --link-file FILE, or pipe it to --link-file -")
	case s.file == "-" && pw.stdin:
		return usagef("--link-file - and --password-stdin both read standard input").
			withHint("give one of them as a file: --link-file FILE or --password-file FILE")
	}
	return nil
}

// read returns the token of the link, from the argument (with a warning)
// or from --link-file.
func (s *linkSource) read(f *Factory, args []string) (string, error) {
	var text string
	if len(args) > 0 {
		f.infof("warning: a link on the command line can be read by other users of this machine (ps)")
		f.infof("hint: save it in a file and give --link-file FILE, or pipe it to --link-file -")
		text = args[0]
	} else {
		var err error
		if text, err = s.readFile(f); err != nil {
			return "", err
		}
	}
	return s.kind.token(text)
}

func (s *linkSource) readFile(f *Factory) (string, error) {
	var b []byte
	var err error
	switch {
	case s.file == "-" && f.IO.stdinIsTerminal():
		// A person pastes the link: one line, no end-of-file needed.
		f.IO.Infof("paste the link, then press Enter:")
		var line string
		line, err = f.IO.readLine()
		b = []byte(line)
	case s.file == "-":
		b, err = io.ReadAll(io.LimitReader(f.IO.In, maxLink+1))
	default:
		var fh *os.File
		if fh, err = os.Open(s.file); err == nil {
			b, err = io.ReadAll(io.LimitReader(fh, maxLink+1))
			fh.Close()
		}
	}
	name := s.file
	if name == "-" {
		name = "standard input"
	}
	if err != nil && err != io.EOF {
		return "", usagef("read link: %v", err)
	}
	if len(b) > maxLink {
		return "", usagef("%s is longer than a link (%d bytes)", name, maxLink)
	}
	text := strings.TrimSpace(string(b))
	switch {
	case text == "":
		return "", usagef("no link in %s", name)
	case strings.ContainsAny(text, " \t\r\n"):
		return "", usagef("%s holds more than a link", name).withHint("put only the link's URL or token in it")
	}
	return text, nil
}

// token returns the token of a link given as its URL (base_url/invite/TOKEN)
// or as the bare token. A link of the other kind is refused at once, and
// no message repeats the link: it is a secret.
func (k linkKind) token(text string) (string, error) {
	text = strings.TrimSpace(text)
	path := text
	if strings.Contains(text, "://") {
		u, err := url.Parse(text)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return "", usagef("the link is not an http or https URL").withHint("give the link's URL or its token")
		}
		path = u.Path
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	tok := segs[len(segs)-1]
	if len(segs) > 1 && segs[len(segs)-2] != k.path {
		seg := segs[len(segs)-2]
		for _, o := range linkKinds {
			if seg == o.path {
				return "", k.wrongKind(o)
			}
		}
		return "", usagef("the link is not %s: its path does not end in /%s/TOKEN", k.noun, k.path)
	}
	for _, o := range linkKinds {
		if o != k && strings.HasPrefix(tok, string(o.prefix)) {
			return "", k.wrongKind(o)
		}
	}
	return tok, nil
}

func (k linkKind) wrongKind(got linkKind) error {
	return usagef("this is %s, not %s", got.noun, k.noun).withHint("redeem it with %s --link-file FILE", got.command)
}

// redemption is what redeeming a link needs: the link and a new password,
// which may not both come from standard input.
type redemption struct {
	link     linkSource
	password passwordSource

	token, secret string // what read found
}

func (r *redemption) addFlags(cmd *cobra.Command) {
	r.link.addFlags(cmd)
	r.password.addFlags(cmd, false, false)
}

// check refuses, before anything runs, sources that cannot all be read.
func (r *redemption) check(f *Factory, args []string) error {
	if err := r.link.check(args, &r.password); err != nil {
		return err
	}
	r.password.stdinTaken = r.link.file == "-"
	if !r.password.given() && !r.password.canPrompt(f) {
		return r.password.missing()
	}
	return nil
}

// read reads the link, opens the Service and reads the password, in that
// order: a bad link or an unreachable store is told before anyone types.
func (r *redemption) read(ctx context.Context, f *Factory, args []string) (roster.Service, error) {
	var err error
	if r.token, err = r.link.read(f, args); err != nil {
		return nil, err
	}
	svc, err := f.Service(ctx)
	if err != nil {
		return nil, err
	}
	if r.secret, err = r.password.read(f); err != nil {
		return nil, err
	}
	return svc, nil
}
