package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOIDCProviders(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("from-the-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ROSTER_OIDC_GOOGLE_CLIENT_ID", "google-id")
	t.Setenv("ROSTER_OIDC_GOOGLE_CLIENT_SECRET", "from-the-env")
	t.Setenv("ROSTER_OIDC_ENTRA_ID_CLIENT_ID", "entra-id")
	t.Setenv("ROSTER_OIDC_ENTRA_ID_CLIENT_SECRET_FILE", secret)

	got, err := oidcProviders([]string{"google=https://accounts.google.com", "entra-id=https://login.microsoftonline.com/t/v2.0"},
		map[string]string{"okta": "https://example.okta.com"})
	if err != nil {
		t.Fatal(err)
	}
	// The flags replace the config file's list; sorted by name.
	if len(got) != 2 || got[0].Name != "entra-id" || got[0].ClientID != "entra-id" || got[0].ClientSecret != "from-the-file" ||
		got[1].Name != "google" || got[1].ClientSecret != "from-the-env" || got[1].Issuer != "https://accounts.google.com" {
		t.Fatalf("providers: %+v", got)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ROSTER_OIDC_EMPTY_CLIENT_ID", "empty-id")
	t.Setenv("ROSTER_OIDC_EMPTY_CLIENT_SECRET_FILE", empty)
	// Only the config file's.
	t.Setenv("ROSTER_OIDC_OKTA_CLIENT_ID", "okta-id")
	if got, err := oidcProviders(nil, map[string]string{"Okta": "https://example.okta.com"}); err != nil || len(got) != 1 || got[0].Name != "okta" {
		t.Fatalf("from the config file: %+v, %v", got, err)
	}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"google"}, "NAME=ISSUER"},
		{[]string{"google=https://a", "google=https://b"}, "twice"},
		{[]string{"github=https://github.com"}, "ROSTER_OIDC_GITHUB_CLIENT_ID"},
		{[]string{"password=https://accounts.google.com"}, "not password or link"},
		// A bad name or issuer is not hinted at as a missing client id.
		{[]string{"Bad_Name=https://accounts.google.com"}, "NAME such as google"},
		{[]string{"github=ftp://github.com"}, "ISSUER an https URL"},
		{[]string{"empty=https://accounts.google.com"}, "is empty"},
	} {
		_, err := oidcProviders(tc.flags, nil)
		var msg string
		if err != nil {
			msg = err.Error()
			if ue, ok := err.(*usageError); ok && ue.hint != "" {
				msg += " " + ue.hint
			}
		}
		if err == nil || !strings.Contains(msg, tc.want) {
			t.Errorf("oidcProviders(%q) = %v; want an error saying %q", tc.flags, err, tc.want)
		}
	}
}
