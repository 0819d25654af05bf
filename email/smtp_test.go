package email_test

import (
	"testing"

	"github.com/wneessen/go-mail"

	"github.com/roundtriphq/roundtrip/email"
)

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	good := map[string]email.SMTP{
		"smtp://mail.example.com":                   {Host: "mail.example.com", Port: 587, StartTLS: mail.TLSOpportunistic},
		"smtp://u:p%40ss@mail.example.com:2525":     {Host: "mail.example.com", Port: 2525, Username: "u", Password: "p@ss", StartTLS: mail.TLSMandatory},
		"smtp://mail.example.com?starttls=required": {Host: "mail.example.com", Port: 587, StartTLS: mail.TLSMandatory},
		"smtp://u:p@127.0.0.1:1025?starttls=off":    {Host: "127.0.0.1", Port: 1025, Username: "u", Password: "p", StartTLS: mail.NoTLS},
		"smtps://u:p@mail.example.com":              {Host: "mail.example.com", Port: 465, Username: "u", Password: "p", ImplicitTLS: true, StartTLS: mail.TLSMandatory},
		"smtp://[::1]:25?starttls=opportunistic":    {Host: "::1", Port: 25, StartTLS: mail.TLSOpportunistic},
	}
	for raw, want := range good {
		got, err := email.ParseSMTPURL(raw)
		if err != nil || got != want {
			t.Errorf("ParseSMTPURL(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"", "mail.example.com:587", "http://mail.example.com", "smtp://", "smtp://mail.example.com:0",
		"smtp://mail.example.com:99999", "smtp://mail.example.com?starttls=maybe", "smtp://mail.example.com?tls=1",
		"smtps://mail.example.com?starttls=required"} {
		if _, err := email.ParseSMTPURL(raw); err == nil {
			t.Errorf("ParseSMTPURL(%q): no error", raw)
		}
	}
}
