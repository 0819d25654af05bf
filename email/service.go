package email

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/returns"
)

// Sender hands a message to a mail server (SMTP).
type Sender interface {
	Send(ctx context.Context, msg *gomail.Msg) error
}

// BatchSender is a Sender that can hand several messages over in one session (one
// connection, one greeting, one sign-in), answering each message's refusal or nil.
type BatchSender interface {
	Sender
	SendAll(ctx context.Context, msgs []*gomail.Msg) []error
}

// Config configures the shopper's emails.
type Config struct {
	// Sender hands messages over; nil turns emails off (nothing is written).
	Sender Sender
	// From is the address every email comes from (ROUNDTRIP_MAIL_FROM); the name
	// shown is the shop's sender name, and replies go to the shop's support email.
	From string
	// BaseURL is the public URL of the service, for the links in the emails.
	BaseURL string
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
	// MaxAttempts is how often a message is tried before it is parked (default 8).
	MaxAttempts int
	// Backoff is the wait after the nth failed attempt (default 30s doubling, at most
	// 30 minutes: about an hour in all).
	Backoff func(n int) time.Duration
}

// DefaultMaxAttempts is how often a message is tried before it is parked.
const DefaultMaxAttempts = 8

// Backoff is the default wait after the nth failed attempt.
func Backoff(n int) time.Duration {
	d := 30 * time.Second << min(max(n-1, 0), 10)
	return min(d, 30*time.Minute)
}

// Service writes and sends the shopper's emails.
type Service struct {
	db        *sqlx.DB
	cfg       Config
	log       *slog.Logger
	returns   *returns.Store
	labels    *labels.Service
	merchants *merchant.Store
	cat       catalogue
}

// New returns the email service on d; the shop's name and branding come from ms.
func New(d *sqlx.DB, cfg Config, rs *returns.Store, ls *labels.Service, ms *merchant.Store) *Service {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff == nil {
		cfg.Backoff = Backoff
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: d, cfg: cfg, log: log, returns: rs, labels: ls, merchants: ms, cat: English}
}

// Enabled reports whether emails are sent at all (an SMTP server is configured).
func (s *Service) Enabled() bool { return s != nil && s.cfg.Sender != nil }

// Jobs registers the send job (batched: up to SendBatch messages a claim) and the hourly label-reminder sweep with w.
func (s *Service) Jobs(w *outbox.Worker) {
	w.HandleBatch(JobSend, outbox.Batch{Size: SendBatch, Read: readMessage, Gather: SendGather}, s.send)
	w.Every(JobReminders, time.Hour, s.Remind)
}

// CheckFrom checks a From address (ROUNDTRIP_MAIL_FROM): a bare address.
func CheckFrom(from string) error {
	a, err := mail.ParseAddress(from)
	if err != nil || a.Name != "" || a.Address != from {
		return errors.New("email: the sender must be a bare address such as returns@example.com")
	}
	return nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
