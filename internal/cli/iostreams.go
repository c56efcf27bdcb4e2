package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// IOStreams are a command's standard streams and what is known of the
// terminal behind them. ROSTER_FORCE_TTY=1 makes tests behave as on a
// terminal; prompts then read lines from In.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdoutTTY bool
	stdinTTY  bool
	stderrTTY bool
	canPrompt bool
	forced    bool
	lines     *bufio.Reader
}

// SystemIO returns the process's streams.
func SystemIO() *IOStreams {
	forced := os.Getenv("ROSTER_FORCE_TTY") != ""
	isTTY := func(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		stdoutTTY: forced || isTTY(os.Stdout),
		stdinTTY:  isTTY(os.Stdin),
		stderrTTY: isTTY(os.Stderr),
		canPrompt: forced || (isTTY(os.Stdin) && isTTY(os.Stderr)),
		forced:    forced,
	}
}

// IsStdoutTTY reports whether results go to a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// CanPrompt reports whether a person can answer a prompt.
func (s *IOStreams) CanPrompt() bool { return s.canPrompt }

// stdinIsTerminal reports whether a person types standard input.
func (s *IOStreams) stdinIsTerminal() bool { return s.forced || s.stdinTTY }

// canPromptOnTTY reports whether a person can answer a prompt on the
// terminal when standard input carries something else, such as a link
// piped to --link-file -: prompts read /dev/tty, not standard input.
func (s *IOStreams) canPromptOnTTY() bool {
	if s.forced || s.canPrompt {
		return true
	}
	if !s.stderrTTY {
		return false
	}
	tty, err := os.Open("/dev/tty")
	if err != nil {
		return false
	}
	tty.Close()
	return true
}

// Infof prints a message for people on stderr.
func (s *IOStreams) Infof(format string, args ...any) {
	fmt.Fprintf(s.ErrOut, "roster: "+format+"\n", args...)
}

func (s *IOStreams) readLine() (string, error) {
	if s.lines == nil {
		s.lines = bufio.NewReader(s.In)
	}
	line, err := s.lines.ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// Confirm asks a yes/no question; anything but y or yes is no.
func (s *IOStreams) Confirm(question string) (bool, error) {
	fmt.Fprintf(s.ErrOut, "%s [y/N] ", question)
	var answer string
	var err error
	if s.forced {
		answer, err = s.readLine()
	} else {
		answer, err = s.ttyLine(false)
	}
	if err != nil && err != io.EOF {
		return false, err
	}
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes", nil
}

// Secret prompts for a secret without echo, on /dev/tty so it works when
// stdin is a pipe.
func (s *IOStreams) Secret(prompt string) (string, error) {
	fmt.Fprint(s.ErrOut, prompt)
	if s.forced {
		return s.readLine()
	}
	return s.ttyLine(true)
}

func (s *IOStreams) ttyLine(noEcho bool) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("open terminal: %w", err)
	}
	defer tty.Close()
	if noEcho {
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(s.ErrOut)
		return string(b), err
	}
	line, err := bufio.NewReader(tty).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}
