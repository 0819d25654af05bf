package email

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/returns"
)

// Message is one email to a shopper as staff see it.
type Message struct {
	PublicID       string     `json:"id" db:"public_id" example:"em_5h8k1n4q7t0w3z6c9f2j5m8p1s"`
	ReturnPublicID string     `json:"return_id" db:"return_public_id" example:"ret_5kq2m9x4c8v1b7n3z6p0r4t2wd" doc:"The return's ID."`
	Kind           Kind       `json:"kind" db:"kind" enum:"review_needed,return_confirmed,return_approved,return_rejected,label_reminder,parcel_in_transit,parcel_arrived,refund_sent,refund_delayed,store_credit_issued,replacement_shipped,return_completed" example:"refund_sent" doc:"Which message: review_needed, return_confirmed, return_approved, return_rejected, label_reminder, parcel_in_transit, parcel_arrived, refund_sent, refund_delayed, store_credit_issued, replacement_shipped or return_completed."`
	Status         string     `json:"status" db:"status" enum:"queued,sent,failed,parked,skipped" example:"sent" doc:"queued (not sent yet), sent (the mail server accepted it), failed (tried again later), parked (no more attempts: see last_error), skipped (the shopper unsubscribed and it is not about money)."`
	To             string     `json:"to,omitempty" db:"to_address" example:"ada@example.com"`
	Subject        string     `json:"subject,omitempty" db:"subject" example:"Your refund of 29.75 EUR is on its way"`
	Attempts       int        `json:"attempts" db:"attempts"`
	LastError      *string    `json:"last_error,omitempty" db:"last_error" doc:"Why the last attempt failed."`
	CreatedAt      time.Time  `json:"created_at" db:"created_at" doc:"When the change that asked for it happened."`
	SentAt         *time.Time `json:"sent_at,omitempty" db:"sent_at"`

	ID         int64           `json:"-" db:"id"`
	ReturnID   int64           `json:"-" db:"return_id"`
	MerchantID int64           `json:"-" db:"merchant_id"`
	Ref        string          `json:"-" db:"ref"`
	Data       json.RawMessage `json:"-" db:"data"`
}

const messageCols = `id, public_id, merchant_id, return_id,
	(SELECT r.public_id FROM returns r WHERE r.id = return_id) AS return_public_id, kind, ref, data, status, to_address, subject, attempts, last_error, created_at, sent_at`

// Messages lists the emails of a return, oldest first.
func (s *Service) Messages(ctx context.Context, merchantID, returnID int64) ([]Message, error) {
	list := []Message{}
	err := s.db.SelectContext(ctx, &list, `SELECT `+messageCols+` FROM email_messages
		WHERE merchant_id = $1 AND return_id = $2 ORDER BY id`, merchantID, returnID)
	if err != nil {
		return nil, fmt.Errorf("email: messages of %d: %w", returnID, err)
	}
	return list, nil
}

// SendBatch is how many send jobs one worker takes at once: they are read by the
// statement that claims them and commit together.
const SendBatch = 32

// SendGather is how long a process lets send jobs gather after it hears of one
// before it claims them (outbox.Batch.Gather): a tenth of a second is nothing to a
// shopper reading email, and under load it lets a claim take a dozen messages.
const SendGather = 100 * time.Millisecond

// readMessage is the send job's outbox.Batch.Read, over the claimed outbox row o:
// the message, its return with items and order, the shopper's opt-out and the
// return's parcels, with their files for the messages that carry the label; NULL
// when the message or its return is gone.
var readMessage = `(SELECT ` + returns.ReadJSON(`json_build_object(
		'message', (SELECT row_to_json(e) FROM (SELECT `+messageCols+` FROM email_messages
			WHERE merchant_id = job.merchant_id AND id = job.message_id) e),
		'unsubscribed', EXISTS (SELECT 1 FROM email_optouts WHERE merchant_id = r.merchant_id AND email = lower(r.customer_email)),
		'parcels', CASE WHEN job.kind IN ('`+string(KindConfirmed)+`', '`+string(KindApproved)+`', '`+string(KindLabelReminder)+`')
			THEN `+labels.ParcelsJSON(labels.AllFiles)+` ELSE `+labels.ParcelsJSON(0)+` END)`,
	`r.merchant_id = job.merchant_id AND r.id = job.return_id`) + `
	FROM (SELECT e.merchant_id, e.id AS message_id, e.return_id, e.kind FROM email_messages e
		WHERE e.merchant_id = o.merchant_id AND e.id = (o.payload->>'id')::bigint) job)`

// outgoing is one message of a batch on its way: what the attempt will record.
type outgoing struct {
	m       Message
	r       *returns.Return
	label   string
	msg     *gomail.Msg // nil: skipped (the shopper unsubscribed)
	subject string
	token   string
	err     error // the attempt failed: the address is unusable, or the server refused
}

// send is the JobSend handler: it renders each message of its jobs from the return
// as it is now and hands them to the mail server, then records what became of each.
// A refusal is recorded and tried again after Backoff, up to MaxAttempts; then the
// message is parked and the timeline says so.
//
// The messages are all handed over before the transaction writes anything: a
// refused message's timeline entry refers to its return, and such a row holds a key
// lock on the return until the commit, which would hold up a change of the return
// for as long as the mail server takes with the rest of the batch (a sent message's
// line and link are kept on its own row, which locks no return). A job
// whose message cannot be prepared fails alone and writes nothing; a failed write
// fails the batch, whose messages are then sent again with its retry.
func (s *Service) send(ctx context.Context, tx *sqlx.Tx, jobs []outbox.Job) ([]error, error) {
	errs := make([]error, len(jobs))
	outs := make([]*outgoing, len(jobs))
	seen := map[int64]bool{}
	for i, job := range jobs {
		outs[i], errs[i] = s.prepare(ctx, tx, job)
		if o := outs[i]; o != nil {
			if seen[o.m.ID] {
				outs[i] = nil // two jobs for one message: one sends it
				continue
			}
			seen[o.m.ID] = true
		}
	}
	var ready []*outgoing
	for _, o := range outs {
		if o != nil && o.msg != nil && o.err == nil {
			ready = append(ready, o)
		}
	}
	if err := s.handOver(ctx, ready); err != nil {
		return nil, err
	}
	var sent []*outgoing
	for _, o := range outs {
		switch {
		case o == nil:
		case o.msg != nil && o.err == nil:
			sent = append(sent, o)
		default:
			if err := s.record(ctx, tx, o); err != nil {
				return nil, err
			}
		}
	}
	return errs, s.recordSent(ctx, tx, sent)
}

// recordSentSQL is recordSent's statement, its batch as arrays (db.Unnest, so that a
// connection keeps its plan).
var recordSentSQL = `UPDATE email_messages e SET status = 'sent', to_address = m.to_address, subject = m.subject,
		attempts = e.attempts + 1, last_error = NULL, sent_at = now(), updated_at = now(),
		link_hash = decode(m.token_hash, 'hex'), link_revoked_at = NULL, timeline_note = m.note
	FROM ` + db.Unnest("$1::bigint[]", "$2::bigint[]", "$3::text[]", "$4::text[]", "$5::text[]", "$6::text[]") + `
		AS m(merchant_id, id, to_address, subject, token_hash, note)
	WHERE e.merchant_id = m.merchant_id AND e.id = m.id`

// recordSent marks the messages sent, with the hashes of their status links and
// their lines on the returns' timelines ("Email sent: refund sent", read into the
// timeline at sent_at by returns.Store.Events), in one statement. It writes no row
// that refers to a return, so it takes no lock on one (see send).
func (s *Service) recordSent(ctx context.Context, tx *sqlx.Tx, sent []*outgoing) error {
	if len(sent) == 0 {
		return nil
	}
	n := len(sent)
	merchants, ids := make([]int64, n), make([]int64, n)
	to, subjects, tokens, notes := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, o := range sent {
		merchants[i], ids[i] = o.m.MerchantID, o.m.ID
		to[i], subjects[i], tokens[i] = o.r.CustomerEmail, o.subject, hex.EncodeToString(hashToken(o.token))
		notes[i] = "Email sent: " + o.label
	}
	_, err := tx.ExecContext(ctx, recordSentSQL,
		db.Array(merchants), db.Array(ids), db.Array(to), db.Array(subjects), db.Array(tokens), db.Array(notes))
	if err != nil {
		return fmt.Errorf("email: record %d sent: %w", n, err)
	}
	return nil
}

// handOver gives the messages to the mail server, over one connection when the
// sender can (BatchSender), and notes each one's refusal in its err.
func (s *Service) handOver(ctx context.Context, list []*outgoing) error {
	if len(list) == 0 {
		return nil
	}
	if b, ok := s.cfg.Sender.(BatchSender); ok && len(list) > 1 {
		msgs := make([]*gomail.Msg, len(list))
		for i, o := range list {
			msgs[i] = o.msg
		}
		errs := b.SendAll(ctx, msgs)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for i, o := range list {
			o.err = errs[i]
		}
		return nil
	}
	for _, o := range list {
		if err := s.cfg.Sender.Send(ctx, o.msg); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			o.err = err
		}
	}
	return nil
}

// prepare reads and renders one job's message; nil when there is nothing to send.
func (s *Service) prepare(ctx context.Context, tx *sqlx.Tx, job outbox.Job) (*outgoing, error) {
	var p sendJob
	if err := job.Decode(&p); err != nil {
		return nil, err
	}
	if job.MerchantID == nil {
		return nil, outbox.Permanent(fmt.Errorf("email: job %d names no merchant", job.ID))
	}
	rd, err := returns.DecodeRead(job.Read)
	if errors.Is(err, returns.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("email: message %d: %w", p.ID, err)
	}
	var extra struct {
		Message      json.RawMessage `json:"message"`
		Unsubscribed bool            `json:"unsubscribed"`
		Parcels      json.RawMessage `json:"parcels"`
	}
	if err := json.Unmarshal(rd.Extra, &extra); err != nil {
		return nil, fmt.Errorf("email: message %d: %w", p.ID, err)
	}
	o := &outgoing{r: rd.Return}
	if err := db.UnmarshalRows(extra.Message, &o.m); err != nil {
		return nil, fmt.Errorf("email: message %d: %w", p.ID, err)
	}
	if o.m.Status != "queued" && o.m.Status != "failed" {
		return nil, nil // sent, skipped or parked already
	}
	if s.cfg.Sender == nil {
		return nil, &outbox.Retry{After: time.Hour, Reason: "emails are off (no SMTP server configured)"}
	}
	if !o.m.Kind.Money() && extra.Unsubscribed {
		return o, nil
	}
	var ps labels.Parcels
	if !o.r.KeepIt {
		if ps, err = labels.DecodeParcels(extra.Parcels, o.r); err != nil {
			return nil, err
		}
	}
	if o.token, _, err = newToken(o.m.PublicID); err != nil {
		return nil, outbox.Permanent(err)
	}
	o.label = s.cat.Kinds[o.m.Kind].Label
	o.msg, o.subject, err = s.build(ctx, tx, o.m, rd, ps, o.token)
	var bad *badAddressError
	if errors.As(err, &bad) {
		o.m.Attempts = s.cfg.MaxAttempts - 1 // no attempt can do better: park it now
		o.err = err
		return o, nil
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// record writes what became of o's attempt when it was not sent: skipped or failed.
func (s *Service) record(ctx context.Context, tx *sqlx.Tx, o *outgoing) error {
	mid, r := o.m.MerchantID, o.r
	switch {
	case o.msg == nil && o.err == nil:
		_, err := tx.ExecContext(ctx, `UPDATE email_messages SET status = 'skipped', to_address = $3, updated_at = now()
			WHERE merchant_id = $1 AND id = $2`, mid, o.m.ID, r.CustomerEmail)
		return err
	default:
		return s.failed(ctx, tx, o.m, r, o.label, o.err)
	}
}

// failed records a refused attempt of m: another after Backoff, or the message
// parked with the error on the return's timeline.
func (s *Service) failed(ctx context.Context, tx *sqlx.Tx, m Message, r *returns.Return, label string, cause error) error {
	why := cause.Error()
	if len(why) > 1000 {
		why = why[:1000]
	}
	attempts := m.Attempts + 1
	s.log.Warn("email not accepted by the mail server", slog.Int64("message", m.ID), slog.String("kind", string(m.Kind)),
		slog.Int("attempts", attempts), slog.String("error", why))
	if attempts >= s.cfg.MaxAttempts {
		if _, err := tx.ExecContext(ctx, `UPDATE email_messages SET status = 'parked', to_address = $3, attempts = $4,
			last_error = $5, updated_at = now() WHERE merchant_id = $1 AND id = $2`,
			m.MerchantID, m.ID, r.CustomerEmail, attempts, why); err != nil {
			return err
		}
		return returns.AddNote(ctx, tx, m.MerchantID, r.ID, "system", "email_failed",
			fmt.Sprintf("Email not sent: %s, after %d attempts. The mail server said: %s", label, attempts, why))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE email_messages SET status = 'failed', to_address = $3, attempts = $4,
		last_error = $5, updated_at = now() WHERE merchant_id = $1 AND id = $2`,
		m.MerchantID, m.ID, r.CustomerEmail, attempts, why); err != nil {
		return err
	}
	_, err := outbox.Enqueue(ctx, tx, outbox.Message{MerchantID: m.MerchantID, Kind: JobSend, Payload: sendJob{ID: m.ID},
		RunAt: time.Now().Add(s.cfg.Backoff(attempts)), MaxAttempts: 100})
	return err
}

// Retry sends a parked message again now, in the caller's transaction tx (with its
// audit entry).
func (s *Service) Retry(ctx context.Context, tx *sqlx.Tx, merchantID int64, publicID string) (Message, error) {
	var m Message
	err := tx.GetContext(ctx, &m, `UPDATE email_messages SET status = 'queued', attempts = 0, updated_at = now()
		WHERE merchant_id = $1 AND public_id = $2 AND status = 'parked' RETURNING `+messageCols, merchantID, publicID)
	if isNoRows(err) {
		var exists bool
		if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM email_messages WHERE merchant_id = $1 AND public_id = $2)`, merchantID, publicID); err != nil {
			return Message{}, err
		}
		if !exists {
			return Message{}, ErrNotFound
		}
		return Message{}, ErrNotParked
	}
	if err != nil {
		return Message{}, err
	}
	if _, err := outbox.Enqueue(ctx, tx, outbox.Message{MerchantID: merchantID, Kind: JobSend, Payload: sendJob{ID: m.ID}, MaxAttempts: 100}); err != nil {
		return Message{}, err
	}
	return m, nil
}

var (
	// ErrNotFound means the merchant has no such message.
	ErrNotFound = errors.New("email: no such message")
	// ErrNotParked means only a parked message can be sent again.
	ErrNotParked = errors.New("email: only a parked message can be sent again")
)

// build renders m for the return rd, with its parcels ps, and the status link token.
func (s *Service) build(ctx context.Context, tx *sqlx.Tx, m Message, rd returns.Read, ps labels.Parcels, token string) (*gomail.Msg, string, error) {
	r, rec := rd.Return, rd.Order
	shop, err := s.merchants.In(ctx, tx, m.MerchantID)
	if err != nil {
		return nil, "", err
	}
	pol, err := s.returns.PolicyIn(ctx, tx, m.MerchantID, r.PolicyVersion)
	if err != nil {
		return nil, "", err
	}
	// the shopper reads the order's language
	lang := langFor(rec.Order.Locale)
	c := catalogues[lang].Common
	cust := rec.Order.Customer
	f := facts{FirstName: cust.FirstName, Email: r.CustomerEmail, Shop: shop.Name, Support: shop.Settings.SupportEmail,
		RMA: r.RMA, OrderNumber: r.OrderNumber, Total: amount(r.Total, r.Currency, lang), KeepIt: r.KeepIt,
		Reason: r.RejectReason, Trigger: string(pol.RefundTrigger)}
	if f.Resolution, err = fill(c["resolution_"+string(r.Resolution)], nil); err != nil || f.Resolution == "" {
		f.Resolution = string(r.Resolution)
	}
	if f.Items, err = itemList(c, r.Items); err != nil {
		return nil, "", err
	}

	parcels := ps.List
	var usable []labels.Parcel // labels the shopper may still use
	var until time.Time
	for _, p := range parcels {
		if f.Tracking == "" && (p.MovedAt != nil || p.ArrivedAt != nil) {
			f.Tracking = p.TrackingNumber
		}
		if p.Status == labels.ParcelIssued && p.ArrivedAt == nil {
			usable = append(usable, p)
			if p.ValidUntil.After(until) {
				until = p.ValidUntil
			}
		}
	}
	if !until.IsZero() {
		f.ValidUntil = date(until, lang)
	}
	if f.Tracking == "" && len(parcels) > 0 {
		f.Tracking = parcels[0].TrackingNumber
	}
	f.Carrier = labels.DefaultCarrierName
	if len(parcels) > 0 && parcels[0].CarrierName != "" {
		f.Carrier = parcels[0].CarrierName
	} else if len(parcels) > 0 && parcels[0].Carrier != "own" {
		f.Carrier = parcels[0].Carrier
	}
	if m.Kind == KindConfirmed || m.Kind == KindApproved {
		// a label bought from a carrier after the approval: the message waits for it
		// (not for a purchase parked for staff)
		for _, p := range parcels {
			if p.Status == labels.ParcelPreparing && !p.LabelParked {
				return nil, "", &outbox.Retry{After: 10 * time.Second, Reason: "the label is being bought from the carrier"}
			}
		}
	}
	switch m.Kind {
	case KindRefundSent, KindRefundDelayed:
		var d refundData
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return nil, "", outbox.Permanent(err)
		}
		f.Amount = amount(d.Amount, d.Currency, lang)
	case KindReplacementShipped:
		var d shipmentData
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return nil, "", outbox.Permanent(err)
		}
		f.Carrier, f.Tracking, f.Items = d.Carrier, d.Tracking, d.Items
		if len(d.Lines) > 0 {
			if f.Items, err = itemList(c, d.Lines); err != nil {
				return nil, "", err
			}
		}
	case KindCreditIssued:
		var d creditData
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return nil, "", outbox.Permanent(err)
		}
		f.Amount = amount(d.Amount+d.Bonus, d.Currency, lang)
		f.Code = d.Code
		if d.Bonus > 0 {
			f.Bonus = amount(d.Bonus, d.Currency, lang)
		}
		credit, err := refunds.StoreCredit(ctx, s.db, m.MerchantID, r.CustomerEmail)
		if err != nil {
			return nil, "", err
		}
		f.Balance = amount(0, d.Currency, lang)
		for _, b := range credit.Balances {
			if b.Currency == d.Currency {
				f.Balance = amount(b.Amount, b.Currency, lang)
			}
		}
	}

	// the label travels with the messages that ask the shopper to send the parcel
	type attachment struct {
		name string
		pdf  []byte
	}
	var files []attachment
	if m.Kind == KindConfirmed || m.Kind == KindApproved || m.Kind == KindLabelReminder {
		format := labels.FormatA4
		if ctry := cust.Address.Country; ctry == "US" || ctry == "CA" {
			format = labels.FormatLetter
		}
		for _, p := range usable {
			// the carrier's own PDF for a label bought through Shippo, else ours
			file, err := s.labels.FileOf(ctx, rd, ps, p.Number, format, s.cfg.BaseURL, nil)
			if errors.Is(err, labels.ErrNoReturnAddress) {
				break // the shop has not said where returns go: the status page explains
			}
			if err != nil {
				return nil, "", fmt.Errorf("email: label of %s: %w", r.RMA, err)
			}
			files = append(files, attachment{name: fmt.Sprintf("%s-label-%d.pdf", r.RMA, p.Number), pdf: file.Body})
		}
	}

	track := s.cfg.BaseURL + TrackPath(shop.Slug, token)
	var feedback func(int) string
	if m.Kind == KindCompleted {
		feedback = func(n int) string { return track + "/feedback?ease=" + strconv.Itoa(n) }
	}
	color := shop.Settings.BrandColor
	if color == "" {
		color = DefaultColor
	}
	b := brand{Shop: shop.Name, Logo: shop.Settings.LogoURL, Color: strings.ToLower(color), OnColor: onColor(strings.ToLower(color))}
	view, err := compose(lang, m.Kind, f, b, track, track+"/unsubscribe", feedback, len(files) > 0)
	if err != nil {
		return nil, "", err
	}
	html, text, err := view.parts()
	if err != nil {
		return nil, "", err
	}

	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	sender := shop.Settings.SenderName
	if sender == "" {
		sender = shop.Name
	}
	if err := msg.FromFormat(sender, s.cfg.From); err != nil {
		return nil, "", outbox.Permanent(fmt.Errorf("email: from %q: %w", s.cfg.From, err))
	}
	if sup := shop.Settings.SupportEmail; sup != "" {
		if err := msg.ReplyToFormat(shop.Name, sup); err != nil {
			return nil, "", outbox.Permanent(fmt.Errorf("email: reply-to %q: %w", sup, err))
		}
	}
	name := strings.TrimSpace(cust.FirstName + " " + cust.LastName)
	if err := msg.AddToFormat(name, r.CustomerEmail); err != nil {
		return nil, "", &badAddressError{address: r.CustomerEmail, err: err}
	}
	msg.Subject(view.Subject)
	msg.SetGenHeader(gomail.Header("Content-Language"), lang)
	msg.SetDate()
	domain := s.cfg.From[strings.LastIndexByte(s.cfg.From, '@')+1:]
	msg.SetMessageIDWithValue(fmt.Sprintf("email-%d.%d@%s", m.ID, m.MerchantID, domain))
	msg.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+view.UnsubscribeURL+">")
	msg.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(gomail.Header("X-Roundtrip-Return"), r.RMA)
	msg.SetGenHeader(gomail.Header("X-Roundtrip-Message"), string(m.Kind))
	msg.SetBodyString(gomail.TypeTextPlain, text)
	msg.AddAlternativeString(gomail.TypeTextHTML, html)
	for _, a := range files {
		if err := msg.AttachReader(a.name, bytes.NewReader(a.pdf), gomail.WithFileContentType("application/pdf")); err != nil {
			return nil, "", err
		}
	}
	return msg, view.Subject, nil
}

// badAddressError is a shopper address that cannot be written in a message.
type badAddressError struct {
	address string
	err     error
}

func (e *badAddressError) Error() string {
	return fmt.Sprintf("email: the address %q cannot be used: %v", e.address, e.err)
}
