package email_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roundtriphq/roundtrip/cmd/roundtrip/apitest"
	"github.com/roundtriphq/roundtrip/cmd/roundtrip/app"
	"github.com/roundtriphq/roundtrip/email"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/labelscan"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/internal/smtptest"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/fakestripe"
)

// bundle is the product with a real SMTP server receiving its emails.
type bundle struct {
	env    *apitest.Env
	shop   apitest.Tenant
	smtp   *smtptest.Server
	worker *outbox.Worker
	stripe *fakestripe.Server
}

const from = "returns@roundtrip.test"

// setup runs the product with a fake Stripe, an outbox worker driven by the test,
// and the emails going to an in-process SMTP server; the shop has its branding and
// warehouse set. adjust may change the configuration further.
func setup(t *testing.T, adjust ...func(*app.Config)) *bundle {
	t.Helper()
	stripe := fakestripe.New(fakestripe.Options{AutoCharges: true, Currency: "eur"})
	t.Cleanup(stripe.Close)
	sink, err := smtptest.Start(smtptest.Options{Username: "roundtrip", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sink.Close)
	smtpCfg, err := email.ParseSMTPURL(sink.URL)
	if err != nil {
		t.Fatal(err)
	}
	smtpCfg.Timeout = 10 * time.Second
	b := &bundle{smtp: sink, stripe: stripe}
	b.env = apitest.New(t, func(c *app.Config, url string) {
		c.Gateway = refunds.NewStripe(refunds.StripeConfig{SecretKey: "sk_test_x", APIBase: stripe.URL(), Timeout: 5 * time.Second})
		c.Email.Sender = smtpCfg
		c.Email.From = from
		c.Email.Backoff = func(int) time.Duration { return 0 }
		c.Email.MaxAttempts = 3
		b.worker = outbox.NewWorker(c.DB, url, outbox.Options{Backoff: func(int) time.Duration { return 0 }})
		c.Worker = b.worker
		for _, a := range adjust {
			a(c)
		}
	})
	b.shop = b.env.Merchant(t, "northwind")
	res := b.env.Do(t, "PUT", "/v1/merchant", b.shop.Keys[auth.RoleAdmin], map[string]any{
		"name": "Northwind Outfitters",
		"settings": map[string]any{
			"brand_color": "#7a1f5c", "logo_url": "https://cdn.example.com/northwind/logo.png",
			"support_email": "help@northwind.example", "sender_name": "Northwind Returns",
			"warehouse": map[string]any{"name": "Northwind Returns", "line1": "12 Harbour Road", "city": "Leeds", "postal_code": "LS1 4AP", "country": "GB"},
		},
	})
	if res.Status != http.StatusOK {
		t.Fatalf("branding: %d %s", res.Status, res.Body)
	}
	return b
}

// drain runs every due job, and the jobs those enqueue, until none is due.
func (b *bundle) drain(t *testing.T) {
	t.Helper()
	for {
		did, err := b.worker.RunOne(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			return
		}
	}
}

type returnDoc struct {
	ID  string `json:"id"`
	RMA string `json:"rma"`
}

// newReturn puts order number with the shopper abigail@example.com (Abigail Adams)
// and returns one T-shirt of it.
func (b *bundle) newReturn(t *testing.T, number string, change func(order map[string]any)) returnDoc {
	return b.newReturnAs(t, number, "refund", change)
}

// newReturnWith returns the T-shirt of order number for reason.
func (b *bundle) newReturnWith(t *testing.T, number, reason string) returnDoc {
	return b.newReturnFull(t, number, "refund", reason, nil)
}

func (b *bundle) newReturnAs(t *testing.T, number, resolution string, change func(order map[string]any)) returnDoc {
	return b.newReturnFull(t, number, resolution, "too_small", change)
}

func (b *bundle) newReturnFull(t *testing.T, number, resolution, reason string, change func(order map[string]any)) returnDoc {
	t.Helper()
	order := apitest.Order("abigail@example.com", time.Now().Add(-48*time.Hour))
	cust := order["customer"].(map[string]any)
	cust["first_name"], cust["last_name"] = "Abigail", "Adams"
	if change != nil {
		change(order)
	}
	if res := b.env.Do(t, "PUT", "/v1/orders/"+number, b.shop.Keys[auth.RoleIntegration], order); res.Status != http.StatusCreated {
		t.Fatalf("put order: %d %s", res.Status, res.Body)
	}
	res := b.env.Do(t, "POST", "/v1/returns", b.shop.Keys[auth.RoleIntegration], map[string]any{
		"order_number": number, "resolution": resolution,
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "reason": reason}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("create return: %d %s", res.Status, res.Body)
	}
	var r returnDoc
	res.JSON(t, &r)
	return r
}

// receive scans the return's parcel and accepts its T-shirt.
func (b *bundle) receive(t *testing.T, r returnDoc) {
	t.Helper()
	if res := b.env.Do(t, "POST", "/v1/scans", b.shop.Keys[auth.RoleWarehouse], map[string]any{"code": r.RMA}); res.Status != http.StatusOK {
		t.Fatalf("scan: %d %s", res.Status, res.Body)
	}
	res := b.env.Do(t, "POST", fmt.Sprintf("/v1/returns/%s/receipts", r.ID), b.shop.Keys[auth.RoleWarehouse], map[string]any{
		"items": []map[string]any{{"line_id": "l1", "quantity": 1, "condition": "like_new", "disposition": "restock"}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("receipt: %d %s", res.Status, res.Body)
	}
}

// parsed is a received email, taken apart as a mail app would.
type parsed struct {
	Header      mail.Header
	Text, HTML  string
	Attachments []attachment
	Raw         []byte
}

type attachment struct {
	Name, Type string
	Data       []byte
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the message does not parse: %v\n%s", err, raw)
	}
	if subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err == nil {
		m.Header["Subject"] = []string{subj} // as a mail app shows it
	}
	p := parsed{Header: m.Header, Raw: raw}
	if err := p.walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Header.Get("Content-Disposition"), m.Body); err != nil {
		t.Fatalf("the message's parts do not parse: %v\n%s", err, raw)
	}
	return p
}

func (p *parsed) walk(ctype, cte, disp string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := p.walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part.Header.Get("Content-Disposition"), part); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(cte) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if dt, dp, err := mime.ParseMediaType(disp); err == nil && dt == "attachment" {
		p.Attachments = append(p.Attachments, attachment{Name: dp["filename"], Type: mt, Data: data})
		return nil
	}
	switch mt {
	case "text/plain":
		p.Text = string(data)
	case "text/html":
		p.HTML = string(data)
	default:
		p.Attachments = append(p.Attachments, attachment{Name: params["name"], Type: mt, Data: data})
	}
	return nil
}

// kind is the message's kind, from its X-Roundtrip-Message header.
func (p parsed) kind() string { return p.Header.Get("X-Roundtrip-Message") }

var trackRE = regexp.MustCompile(`https?://[^\s"<>]+/track/rtl_[a-z0-9]+`)

// statusLink is the link to the status page in the plain text part.
func (p parsed) statusLink(t *testing.T) string {
	t.Helper()
	u := trackRE.FindString(p.Text)
	if u == "" {
		t.Fatalf("%s: no status link in the text part:\n%s", p.kind(), p.Text)
	}
	return u
}

// received parses every message the SMTP server accepted so far.
func (b *bundle) received(t *testing.T) []parsed {
	t.Helper()
	var out []parsed
	for _, m := range b.smtp.Messages() {
		out = append(out, parse(t, m.Data))
	}
	return out
}

func kinds(list []parsed) []string {
	var out []string
	for _, p := range list {
		out = append(out, p.kind())
	}
	return out
}

// scanPDF returns the Code 128 and QR contents a scanner reads from a label PDF.
func scanPDF(t *testing.T, pdf []byte) []string { t.Helper(); return labelscan.Scan(t, pdf) }

// get fetches a URL and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}
