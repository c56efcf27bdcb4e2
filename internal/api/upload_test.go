package api_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/api"
	"github.com/roster-dev/roster/internal/testkit"
)

// uploadReadTimeout is the read timeout of TestSlowUpload's servers.
const uploadReadTimeout = 300 * time.Millisecond

// TestSlowUpload: an import's file may take longer to come than the
// server's read timeout, as long as it keeps coming (a 64 MiB file over
// 10 Mbit/s takes nearly a minute against 30 s); a client that stops
// sending is still cut off, and nothing of its file is written.
func TestSlowUpload(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("HTTP/%d", map[bool]int{false: 1, true: 2}[h2]), func(t *testing.T) {
			e := newEnvWith(t, api.Options{ReadTimeout: uploadReadTimeout, LongTimeout: time.Minute}, nil)
			srv := serveTimed(t, e.h, h2, func(s *http.Server) { s.ReadTimeout = uploadReadTimeout })
			post := func(body io.Reader) (*http.Response, error) {
				req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/v1/import?format=csv", body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+e.owner)
				return srv.Client().Do(req)
			}

			// Ten parts, one every quarter of the read timeout: the file
			// takes two and a half times the read timeout to come.
			file := testkit.UsersCSV("slow", 500)
			pr, pw := io.Pipe()
			go func() {
				tick := time.NewTicker(uploadReadTimeout / 4)
				defer tick.Stop()
				part := len(file)/10 + 1
				for i := 0; i < len(file); i += part {
					<-tick.C
					if _, err := io.WriteString(pw, file[i:min(i+part, len(file))]); err != nil {
						return
					}
				}
				pw.Close()
			}()
			start := time.Now()
			resp, err := post(pr)
			if err != nil {
				t.Fatalf("a file that kept coming for %v was cut off: %v", time.Since(start), err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if took := time.Since(start); took < uploadReadTimeout {
				t.Fatalf("the file came in %v, within the read timeout: the test proves nothing", took)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d\n%s", resp.StatusCode, body)
			}
			if _, err := e.admin().GetUser(ctx, testkit.UserEmail("slow", 499)); err != nil {
				t.Errorf("the last user was not written: %v", err)
			}

			// A client that sends a part and stops is cut off.
			stalled := testkit.UsersCSV("stalled", 500)
			pr, pw = io.Pipe()
			go io.WriteString(pw, stalled[:len(stalled)/2])
			resp, err = post(pr)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					t.Fatalf("half a file was taken whole: %s", body)
				}
			}
			pw.Close()
			if _, err := e.admin().GetUser(ctx, testkit.UserEmail("stalled", 0)); err == nil {
				t.Error("a user of the file cut off was written")
			}
		})
	}
}

// TestImportBadLinesRemote: a file sent with an idempotency key, which
// the server reads whole and then writes while it parses it, and the
// same file sent without, read as it comes and written after, find the
// same bad lines, the file's own and the rules', and write nothing.
func TestImportBadLinesRemote(t *testing.T) {
	var b strings.Builder
	b.WriteString("email,name,roles\n")
	for i := range 3000 {
		switch i {
		case 3: // a rule's: found while writing
			fmt.Fprintf(&b, "%s,,nosuchrole\n", testkit.UserEmail("bad", i))
		case 2900: // the file's own, read after that
			b.WriteString("not-an-email,,\n")
		default:
			fmt.Fprintf(&b, "%s,User %d,member\n", testkit.UserEmail("bad", i), i)
		}
	}
	var answers []string
	for _, key := range []string{key1, ""} {
		e := newEnv(t, api.Options{}, nil)
		req, err := http.NewRequestWithContext(ctx, "POST", e.url+"/api/v1/import?format=csv", strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.owner)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"line":5`) || !strings.Contains(string(body), `"line":2902`) {
			t.Fatalf("key %q: %d\n%s", key, resp.StatusCode, body)
		}
		answers = append(answers, string(body))
		if _, err := e.admin().GetUser(ctx, testkit.UserEmail("bad", 0)); err == nil {
			t.Errorf("key %q: a user of a file with bad lines was written", key)
		}
	}
	if answers[0] != answers[1] {
		t.Errorf("with a key:\n%s\nwithout:\n%s", answers[0], answers[1])
	}
}
