package notify

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/roundtriphq/roundtrip/internal/cache"
	"github.com/roundtriphq/roundtrip/internal/db"
	"github.com/roundtriphq/roundtrip/internal/emptylist"
	"github.com/roundtriphq/roundtrip/internal/keepalive"
	"github.com/roundtriphq/roundtrip/internal/listen"
	"github.com/roundtriphq/roundtrip/internal/outbox"
)

// JobDeliver is the outbox job kind that makes one delivery attempt.
const JobDeliver = "webhook.deliver"

// DefaultTimeout bounds one delivery attempt: connecting, sending and reading the
// answer.
const DefaultTimeout = 10 * time.Second

// Options configure a Service; the zero value is the production setting.
type Options struct {
	// AllowHTTP accepts http:// endpoint URLs besides https:// (local development
	// and tests).
	AllowHTTP bool
	// AllowPrivate lets endpoints point at loopback, private, link-local, CGNAT and
	// other internal addresses (local development and tests). Off, such URLs are
	// refused when an endpoint is saved and such addresses are refused when dialled.
	AllowPrivate bool
	// Timeout bounds one delivery attempt (default DefaultTimeout).
	Timeout time.Duration
	// Logger receives delivery failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock (default time.Now). Tests move it to walk the retry schedule.
	Now func() time.Time
	// Resolver resolves endpoint host names when they are saved (default
	// net.DefaultResolver).
	Resolver *net.Resolver
}

// Service publishes events, manages endpoints and delivers webhooks.
type Service struct {
	db       db.Queryer
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	resolver *net.Resolver
	client   *http.Client
	mailer   Mailer
	// endpoints caches each merchant's enabled endpoints (CacheEndpoints); nil reads
	// them on every publish.
	endpoints *cache.Map[int64, []subscriber]
}

// EndpointChannel is the NOTIFY channel on which a change to a merchant's webhook
// endpoints is announced (by a trigger, with the merchant's ID), so that every
// process forgets its copy.
const EndpointChannel = "roundtrip_webhook_endpoints"

// CacheEndpoints makes Publish remember each merchant's enabled endpoints for ttl
// instead of reading them on every event: a return's journey publishes a dozen
// events. A change to an endpoint (created, deleted, enabled, disabled, its event
// types) is forgotten by every process when its notification arrives through hub,
// milliseconds after the commit; ttl bounds it for a process that missed one. Call
// before serving.
func (s *Service) CacheEndpoints(ttl time.Duration, hub *listen.Hub) {
	s.endpoints = cache.New[int64, []subscriber](ttl, hub, EndpointChannel, func(p string) (int64, bool) {
		id, err := strconv.ParseInt(p, 10, 64)
		return id, err == nil
	})
}

// subscriber is an enabled endpoint and the event types it takes (empty: all).
type subscriber struct {
	ID     string         `db:"id"`
	Events pq.StringArray `db:"enabled_events"`
}

func (sb subscriber) takes(t EventType) bool {
	return len(sb.Events) == 0 || slices.Contains(sb.Events, string(t))
}

// subscribers returns the IDs of the merchant's enabled endpoints that take
// eventType, in the order they were created.
func (s *Service) subscribers(ctx context.Context, q sqlx.QueryerContext, merchantID int64, eventType EventType) ([]string, error) {
	if s.endpoints == nil {
		var ids []string
		err := sqlx.SelectContext(ctx, q, &ids, `SELECT id FROM webhook_endpoints
			WHERE merchant_id = $1 AND enabled AND (cardinality(enabled_events) = 0 OR $2 = ANY(enabled_events))
			ORDER BY seq`, merchantID, eventType)
		return ids, err
	}
	subs, err := s.endpoints.Get(ctx, merchantID, func(ctx context.Context) ([]subscriber, error) {
		var subs []subscriber
		err := sqlx.SelectContext(ctx, q, &subs, `SELECT id, enabled_events FROM webhook_endpoints
			WHERE merchant_id = $1 AND enabled ORDER BY seq`, merchantID)
		return subs, err
	})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, sb := range subs {
		if sb.takes(eventType) {
			ids = append(ids, sb.ID)
		}
	}
	return ids, nil
}

// Mailer is told of every event in the transaction that publishes it, to write the
// shopper's email about it (the email package): it answers the email's writes and
// its job as a part of the event's own statement, or nil when the event asks for no
// email.
type Mailer interface {
	Mail(ctx context.Context, tx sqlx.ExtContext, merchantID int64, eventType EventType, data any) (*outbox.Part, error)
}

// SetMailer makes every published event reach m as well as the shop's endpoints.
func (s *Service) SetMailer(m Mailer) { s.mailer = m }

// New returns the webhooks service on d. d may be nil when the service only
// registers its operations (printing the OpenAPI document).
func New(d *sqlx.DB, opts Options) *Service {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	s := &Service{db: d, opts: opts, log: opts.Logger, now: opts.Now, resolver: opts.Resolver}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.resolver == nil {
		s.resolver = net.DefaultResolver
	}
	dialer := &net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second, Control: s.dialControl}
	s.client = &http.Client{
		Transport: &http.Transport{
			// never through a proxy: the dial-time check must see the receiver's address
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   opts.Timeout,
			ResponseHeaderTimeout: opts.Timeout,
			// as many idle connections per receiver as deliveries run at once: a
			// connection beyond them would be dialled (and, over TLS, shaken hands
			// with) again for every delivery
			MaxIdleConns:        4 * keepalive.PerHost,
			MaxIdleConnsPerHost: keepalive.PerHost,
			IdleConnTimeout:     90 * time.Second,
		},
		Timeout: opts.Timeout,
		// a redirect is an answer like any other non-2xx: not followed
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// WithTx returns the service working in the caller's transaction tx, so that a
// change to an endpoint or a delivery commits with what else tx writes (its audit
// entry).
func (s *Service) WithTx(tx *sqlx.Tx) *Service {
	c := *s
	c.db = tx
	return &c
}

// Jobs registers the delivery job with an outbox worker: a worker takes up to
// DeliverBatch due delivery jobs at once.
func (s *Service) Jobs(w *outbox.Worker) {
	w.HandleBatch(JobDeliver, outbox.Batch{Size: DeliverBatch, Read: readTargets, Gather: DeliverGather}, s.deliver)
}

// DeliverBatch is how many delivery jobs one worker runs together: they are read by
// the statement that claims them, their requests go out side by side, and their
// records are one statement and one commit.
const DeliverBatch = 32

// DeliverGather is how long a process lets delivery jobs gather after it hears of
// one before it claims them (outbox.Batch.Gather): a webhook goes out up to that
// much later, and under load the jobs that came meanwhile share one claim, one
// statement of records and one commit instead of one each. 50 ms is nothing to a
// shop's system and, at a few hundred events a second, fills batches of a dozen or
// more (BENCHMARKS.md).
const DeliverGather = 50 * time.Millisecond

// deliverJob is the payload of a JobDeliver outbox row: the deliveries of the events
// one statement published to every endpoint each went to (shareJob), or one
// delivery's next attempt.
type deliverJob struct {
	Deliveries []deliveryRef `json:"deliveries,omitempty"`
	// DeliveryID and Generation: one delivery, as rows written before Deliveries
	// name it.
	DeliveryID string `json:"delivery_id,omitempty"`
	Generation int    `json:"generation,omitempty"`
}

// deliveryRef names an attempt of one delivery: a manual retry bumps the delivery's
// generation, and the jobs of an older generation do nothing.
type deliveryRef struct {
	ID         string `json:"id"`
	Generation int    `json:"generation"`
}

func (p deliverJob) refs() []deliveryRef {
	if p.DeliveryID != "" {
		return append(p.Deliveries, deliveryRef{ID: p.DeliveryID, Generation: p.Generation})
	}
	return p.Deliveries
}

// newID returns an opaque ID: prefix and 26 random base32 characters (130 bits).
func newID(prefix string) string {
	return prefix + strings.ToLower(rand.Text())
}

// stamp is the service's clock in UTC, to the microsecond PostgreSQL keeps, so that
// a time in an envelope equals the one in its row.
func (s *Service) stamp() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// Publish records that eventType happened to data for a merchant, in the caller's
// transaction tx: the event, a delivery for each enabled endpoint subscribed to the
// type, one outbox job that makes them, and the shopper's email about it with its job
// (the Mailer, SetMailer), all in one statement. Nothing is sent unless tx commits. data is
// marshalled to JSON as the envelope's data; an unknown eventType is an error.
//
// jobs are the caller's own outbox jobs for the same change (a refund's send job, a
// label's expiry): the statement that publishes enqueues them too.
func (s *Service) Publish(ctx context.Context, tx sqlx.ExtContext, merchantID int64, eventType EventType, data any, jobs ...outbox.Message) error {
	return s.publish(ctx, tx, merchantID, eventType, data, nil, jobs)
}

// PublishCarrying is Publish whose statement makes carried's writes first: a change
// of the caller's that the event goes with (returns.Tx.TransitionIn).
func (s *Service) PublishCarrying(ctx context.Context, tx sqlx.ExtContext, merchantID int64, eventType EventType, data any, carried []outbox.Part, jobs ...outbox.Message) error {
	return s.publish(ctx, tx, merchantID, eventType, data, carried, jobs)
}

// publish is Publish whose statement makes the writes of carried first (the change
// being published).
func (s *Service) publish(ctx context.Context, tx sqlx.ExtContext, merchantID int64, eventType EventType, data any, carried []outbox.Part, jobs []outbox.Message) error {
	parts, err := s.prepare(ctx, tx, merchantID, eventType, data, carried, jobs, "")
	if err != nil {
		return err
	}
	if _, _, err := outbox.EnqueueParts(ctx, tx, parts); err != nil {
		return fmt.Errorf("notify: publish %s: %w", eventType, err)
	}
	return nil
}

// prepare answers the writes of publish, for a statement to make: carried's first,
// then the shop's event and its deliveries (when an endpoint listens), then the
// shopper's email; the parts bring the jobs (outbox.Part.Messages). name ends the
// names of the parts' table expressions, so that the writes of two events can share
// one statement; the deliveries of events that share one have one job (shareJob).
func (s *Service) prepare(ctx context.Context, tx sqlx.ExtContext, merchantID int64, eventType EventType, data any,
	carried []outbox.Part, jobs []outbox.Message, name string) ([]outbox.Part, error) {
	if !eventType.Known() {
		return nil, fmt.Errorf("notify: publish: unknown event type %q", eventType)
	}
	parts := slices.Clone(carried) // shareJob may give one of them another job list
	var mail []outbox.Part
	if s.mailer != nil {
		m, err := s.mailer.Mail(ctx, tx, merchantID, eventType, data)
		if err != nil {
			return nil, fmt.Errorf("notify: publish %s: email: %w", eventType, err)
		}
		if m != nil {
			if name != "" && m.Jobs != "" {
				m.With, m.Jobs = strings.ReplaceAll(m.With, m.Jobs, m.Jobs+name), m.Jobs+name
			}
			mail = append(mail, *m)
		}
	}
	raw, err := json.Marshal(emptylist.Fill(data)) // a list is [] when empty, as documented
	if err != nil {
		return nil, fmt.Errorf("notify: publish %s: data: %w", eventType, err)
	}
	endpoints, err := s.subscribers(ctx, tx, merchantID, eventType)
	if err != nil {
		return nil, fmt.Errorf("notify: publish %s: endpoints: %w", eventType, err)
	}
	if len(endpoints) == 0 {
		// nobody listens: an event is kept only for its deliveries
		return append(append(parts, mail...), outbox.Part{Messages: jobs}), nil
	}
	now := s.stamp()
	env := WebhookEvent{ID: newID("evt_"), Type: eventType, APIVersion: APIVersion, CreatedAt: now, Data: raw}
	payload, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("notify: publish %s: %w", eventType, err)
	}
	// the event, its deliveries and their job are one statement. An endpoint deleted
	// or disabled since the list was read (a cached list is up to a notification
	// late) gets no delivery, and the job finds none to make for it.
	refs := make([]deliveryRef, len(endpoints))
	ids := make([]string, len(endpoints))
	for i := range endpoints {
		ids[i] = newID("wd_")
		refs[i] = deliveryRef{ID: ids[i], Generation: 1}
	}
	if !shareJob(parts, merchantID, refs) {
		jobs = append([]outbox.Message{{MerchantID: merchantID, Kind: JobDeliver, Payload: deliverJob{Deliveries: refs}}}, jobs...)
	}
	parts = append(parts, outbox.Part{With: `webhook_event` + name + ` AS (INSERT INTO webhook_events (merchant_id, id, type, created_at, payload)
			VALUES ($1, $2, $3, $4, $5)),
		webhook_delivery` + name + ` AS (INSERT INTO webhook_deliveries (merchant_id, id, endpoint_id, event_id, created_at, updated_at)
			SELECT $1, x.id, e.id, $2, $4, $4 FROM ` + deliveryTargets + ` AS x(id, endpoint_id)
			JOIN webhook_endpoints e ON e.merchant_id = $1 AND e.id = x.endpoint_id AND e.enabled)`,
		Args:     []any{merchantID, env.ID, eventType, now, string(payload), db.Array(ids), db.Array(endpoints)},
		Messages: jobs})
	return append(parts, mail...), nil
}

// deliveryTargets is the FROM item of an event's deliveries, a batch of arrays
// joined to the endpoints by key (db.Unnest, as every such batch).
var deliveryTargets = db.Unnest("$6::text[]", "$7::text[]")

// shareJob adds refs to the delivery job that an earlier event of the same statement
// brought (one of parts), and reports whether there was one. The events of one change
// (a creation, its approval and its label; a refund's success and the return's
// completion) then cost one outbox row, inserted and deleted, instead of one each:
// a job names any number of deliveries, attempts each side by side and schedules a
// failed one's next attempt as a job of its own, as for an event's several endpoints.
// A job due later (a next attempt) or of another shop is left as it is. The part
// changed gets a job list of its own, so that the caller's is not changed under it.
func shareJob(parts []outbox.Part, merchantID int64, refs []deliveryRef) bool {
	for i := range parts {
		for j, m := range parts[i].Messages {
			p, ok := m.Payload.(deliverJob)
			if !ok || m.Kind != JobDeliver || m.MerchantID != merchantID || !m.RunAt.IsZero() || p.DeliveryID != "" {
				continue
			}
			msgs := slices.Clone(parts[i].Messages)
			msgs[j].Payload = deliverJob{Deliveries: append(slices.Clip(p.Deliveries), refs...)}
			parts[i].Messages = msgs
			return true
		}
	}
	return false
}
