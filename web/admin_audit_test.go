package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/roundtriphq/roundtrip/audit"
	"github.com/roundtriphq/roundtrip/internal/auth"
)

// TestAuditPageLinksNameEntriesNotInternalIDs: the audit page's link to older
// entries names the last entry shown by its public ID, not by the internal ID that
// every shop's entries share (which would tell a shop how busy the platform is). The
// two pages show every entry once, and a link naming another shop's entry shows the
// trail from its newest entry.
func TestAuditPageLinksNameEntriesNotInternalIDs(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	s.user(t, s.tn, "boss", auth.RoleAdmin)
	other := s.env.Merchant(t, "southwind")
	ctx := context.Background()
	if _, err := s.env.DB.Exec(`SELECT setval(pg_get_serial_sequence('audit_log', 'id'), 48271604113)`); err != nil {
		t.Fatal(err)
	}
	for i := range 55 {
		for _, m := range []int64{s.tn.Merchant.ID, other.Merchant.ID} {
			if err := audit.Record(ctx, s.env.DB, m, audit.Entry{Actor: "cli", Action: audit.KeyCreated, Target: fmt.Sprintf("API key k%02d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	admin := s.client(t)
	admin.signIn("northwind", "boss")
	first := admin.get("/admin/audit")
	wantStatus(t, "audit page", first, http.StatusOK)
	m := regexp.MustCompile(`href="(/admin/audit\?before=[^"]*)"`).FindStringSubmatch(first.Body)
	if m == nil {
		t.Fatalf("the first page has no link to older entries:\n%.1500s", first.Body)
	}
	link := html.UnescapeString(m[1])
	before := strings.TrimPrefix(link, "/admin/audit?before=")
	var id int64
	if err := s.env.DB.Get(&id, `SELECT id FROM audit_log WHERE merchant_id = $1 AND public_id = $2`, s.tn.Merchant.ID, before); err != nil {
		t.Fatalf("the link %q names no entry of the shop: %v", link, err)
	}
	for _, internal := range []string{strconv.FormatInt(id, 10), strconv.FormatInt(id, 36)} {
		if strings.Contains(link, internal) {
			t.Errorf("the link %q shows the internal ID %d", link, id)
		}
	}
	second := admin.get(link)
	wantStatus(t, "older entries", second, http.StatusOK)
	for i := range 55 {
		target := fmt.Sprintf("API key k%02d", i)
		if n := strings.Count(first.Body, target) + strings.Count(second.Body, target); n != 1 {
			t.Errorf("%s: shown %d times over the two pages, want once", target, n)
		}
	}

	var theirs string
	s.env.DB.Get(&theirs, `SELECT public_id FROM audit_log WHERE merchant_id = $1 ORDER BY id LIMIT 1`, other.Merchant.ID)
	p := admin.get("/admin/audit?before=" + theirs)
	wantStatus(t, "another shop's entry in the link", p, http.StatusOK)
	mustContain(t, p, "API key k54")
}
