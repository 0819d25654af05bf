package labels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/roundtriphq/roundtrip/internal/outbox"
	"github.com/roundtriphq/roundtrip/labels/shippo"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/returns"
)

// The built-in carrier used when NewService gets none: a merchant's own
// courier numbering parcels in the S10 domestic-use range ("Z…", R for
// return), with the country of the merchant's returns warehouse.
const (
	DefaultCarrierName      = "Roundtrip Courier"
	DefaultServiceIndicator = "ZR"
	DefaultCountry          = "GB"
)

// MaxParcels is the most parcels (each a paid label) one return may have.
const MaxParcels = 10

// ParcelStatus says whether a parcel's label may still be used.
type ParcelStatus string

const (
	// ParcelPreparing: the label is being bought from a remote carrier (Shippo)
	// after the approval; it has no tracking number yet.
	ParcelPreparing ParcelStatus = "preparing"
	// ParcelIssued: the label is valid and may be handed to the carrier.
	ParcelIssued ParcelStatus = "issued"
	// ParcelVoided: the return was cancelled, rejected or expired; the label
	// must not be used.
	ParcelVoided ParcelStatus = "voided"
)

// Parcel is one labelled parcel of a return.
type Parcel struct {
	Number         int          `json:"number" db:"number" example:"1" doc:"The parcel's number within its return, from 1."`
	Carrier        string       `json:"carrier" db:"carrier" example:"own" doc:"Code of the carrier that issued the label: own (the shop's own S10 labels) or shippo."`
	CarrierName    string       `json:"carrier_name,omitempty" db:"carrier_name" example:"USPS" doc:"The carrier that carries the parcel, for labels bought through Shippo."`
	Service        string       `json:"service" db:"service" example:"Return"`
	TrackingNumber string       `json:"tracking_number" db:"tracking_number" example:"ZR000000425GB" doc:"Empty while the label is being prepared."`
	TrackingURL    string       `json:"tracking_url,omitempty" db:"tracking_url" doc:"The carrier's tracking page."`
	Status         ParcelStatus `json:"status" db:"status" enum:"preparing,issued,voided" example:"issued" doc:"preparing: the label is being bought from the carrier (after approval); issued: the label may be used; voided: it must not (the return was cancelled, rejected or expired)."`
	LabelAmount    *int64       `json:"label_amount,omitempty" db:"label_amount" example:"550" doc:"What the label cost the shop, in minor units of label_currency (labels bought through Shippo)."`
	LabelCurrency  *string      `json:"label_currency,omitempty" db:"label_currency" example:"USD"`
	HasQRCode      bool         `json:"has_qr_code" db:"has_qr" doc:"The carrier gave a QR code to show at the counter instead of a printed label; own labels always have our drop-off QR code of the tracking number."`
	VoidStatus     *string      `json:"void_status,omitempty" db:"void_status" example:"SUCCESS" doc:"The carrier's answer to the void of an unused label (Shippo refund status)."`
	Problem        *string      `json:"problem,omitempty" db:"problem" doc:"A carrier problem staff should look at: the parcel was returned to the sender, or delivery failed."`
	LabelError     *string      `json:"label_error,omitempty" db:"label_error" doc:"Why the label is late: the last error buying it from the carrier (it is retried)."`
	LabelParked    bool         `json:"label_parked" db:"label_parked" doc:"Buying the label failed after every retry: staff must look at the return."`
	IssuedAt       time.Time    `json:"issued_at" db:"issued_at"`
	ValidUntil     time.Time    `json:"valid_until" db:"valid_until" doc:"Hand the parcel to the carrier before this time; a return whose parcels have not moved by then expires."`
	MovedAt        *time.Time   `json:"moved_at,omitempty" db:"moved_at" doc:"When the carrier first reported the parcel moving."`
	CarrierStatus  *string      `json:"carrier_status,omitempty" db:"carrier_status" example:"in_transit" doc:"The latest status the carrier reported."`
	ArrivedAt      *time.Time   `json:"arrived_at,omitempty" db:"arrived_at" doc:"When the warehouse scanned the parcel."`
	VoidedAt       *time.Time   `json:"voided_at,omitempty" db:"voided_at"`
	LabelURL       string       `json:"label_url" db:"-" example:"/v1/returns/R-7KQ4-M2XD/label?parcel=1" doc:"Where to download the label (PDF; add format=zpl for thermal printers, format=qr for the drop-off QR code)."`
	DropOffURL     string       `json:"drop_off_url,omitempty" db:"-" example:"https://tools.usps.com/find-location.htm" doc:"The carrier's locator of places that take the parcel (and scan its QR code)."`

	ID              int64      `json:"-" db:"id"`
	ReturnID        int64      `json:"-" db:"return_id"`
	CarrierStatusAt *time.Time `json:"-" db:"carrier_status_at"`

	LabelID    *string `json:"-" db:"label_id"`
	LabelJobID *int64  `json:"-" db:"label_job_id"`
	VoidRef    *string `json:"-" db:"void_ref"`
}

const parcelCols = `id, return_id, number, carrier, service, coalesce(tracking_number, '') AS tracking_number, status,
	issued_at, valid_until, moved_at, carrier_status, carrier_status_at, arrived_at, voided_at,
	coalesce(carrier_name, '') AS carrier_name, coalesce(tracking_url, '') AS tracking_url, label_amount, label_currency,
	qr_code IS NOT NULL AS has_qr, void_status, problem, label_id, label_job_id, void_ref,
	(SELECT o.last_error FROM outbox o WHERE o.id = label_job_id AND o.state <> 'done' AND status = 'preparing') AS label_error,
	coalesce((SELECT o.state = 'dead' FROM outbox o WHERE o.id = label_job_id AND status = 'preparing'), false) AS label_parked`

var (
	// ErrNoParcel means the return has no parcel with that number, or no
	// parcel of the merchant has that tracking number.
	ErrNoParcel = errors.New("labels: no such parcel")
	// ErrNoLabels means the return has no labels at all: it waits for review,
	// or nothing is sent back (keep-it), or it ended before approval.
	ErrNoLabels = errors.New("labels: the return has no labels")
	// ErrTooManyParcels means the return already has MaxParcels parcels.
	ErrTooManyParcels = errors.New("labels: too many parcels")
	// ErrNoReturnAddress means the merchant has not set its returns warehouse,
	// so no label can be printed.
	ErrNoReturnAddress = errors.New("labels: the merchant has no returns address")
	// ErrBadSecret means a carrier event came with a missing or wrong secret.
	ErrBadSecret = errors.New("labels: wrong carrier secret")
)

// NoLabelsError is ErrNoLabels for one return, with what says why.
type NoLabelsError struct {
	RMA    string
	State  returns.State
	KeepIt bool
}

func (e *NoLabelsError) Error() string        { return "labels: return " + e.RMA + " has no labels" }
func (e *NoLabelsError) Is(target error) bool { return target == ErrNoLabels }

func noLabels(r *returns.Return) error {
	return &NoLabelsError{RMA: r.RMA, State: r.State, KeepIt: r.KeepIt}
}

// NoParcelError is ErrNoParcel for a parcel number of one return.
type NoParcelError struct{ RMA string }

func (e *NoParcelError) Error() string        { return "labels: return " + e.RMA + " has no such parcel" }
func (e *NoParcelError) Is(target error) bool { return target == ErrNoParcel }

// VoidedError is a request for a label that was voided.
type VoidedError struct {
	Parcel Parcel
	State  returns.State // the return's state, which says why
}

func (e *VoidedError) Error() string {
	return fmt.Sprintf("labels: parcel %d was voided (the return is %s)", e.Parcel.Number, e.State)
}

// ClosedError is a parcel asked for a return that no longer waits for parcels.
type ClosedError struct {
	State returns.State
}

func (e *ClosedError) Error() string {
	return fmt.Sprintf("labels: a return that is %s takes no more parcels", e.State)
}

// Service issues, voids and prints the labels of returns, follows carrier
// events and expires returns whose labels ran out.
type Service struct {
	db        *sqlx.DB
	store     *returns.Store
	merchants *merchant.Store
	// Publisher, when set, tells the shop's systems about labels and parcels
	// (label.issued, parcel.in_transit, parcel.delivered) in the change's transaction.
	Publisher Publisher
	baseURL   string
	carrier   Carrier // nil: per merchant, from its carrier settings
	// Shippo configures the client of merchants that buy labels through Shippo.
	Shippo ShippoOptions
	// Logger logs what background jobs could not do (nil: nothing).
	Logger *slog.Logger
	// rendered keeps the labels rendered last (nil: render every time)
	rendered *renderedLabels
	// serials hands out own labels' tracking serials
	serials serials
}

// ShippoOptions configure how the service reaches Shippo.
type ShippoOptions struct {
	// APIBase is Shippo's URL (shippo.DefaultAPIBase when empty): a fake Shippo for
	// demos and tests.
	APIBase string
	// HTTPClient sends the requests (nil: a client of its own).
	HTTPClient *http.Client
	// Timeout bounds each request (default 20 s); MaxRetries and Backoff as in
	// shippo.Config.
	Timeout    time.Duration
	MaxRetries int
	Backoff    func(n int) time.Duration
}

// NewService returns a service on d. baseURL is the public URL of the
// portal, printed in the labels' QR codes ("" takes it from each request's
// Host). carrier issues every merchant's labels; nil gives each merchant an
// own courier named DefaultCarrierName issuing S10 numbers with
// DefaultServiceIndicator and the warehouse's country (else DefaultCountry).
func NewService(d *sqlx.DB, store *returns.Store, merchants *merchant.Store, baseURL string, carrier Carrier) *Service {
	return &Service{db: d, store: store, merchants: merchants, baseURL: strings.TrimRight(baseURL, "/"), carrier: carrier,
		rendered: newRenderedLabels()}
}

// Jobs registers the label jobs (expiry at a label's validity's end, voiding at the
// carrier) with an outbox worker.
func (s *Service) Jobs(w *outbox.Worker) {
	w.Handle(KindExpire, s.expire)
	w.Handle(KindVoid, s.voidAtCarrier)
	w.Handle(KindBuy, s.buy)
	w.Every(KindTrackPoll, time.Hour, s.pollTracking)
}

// Issue books the first parcel of an approved return with its label; it is the
// returns store's Labels effect (returns.Effects), run in the approval's transaction.
func (s *Service) Issue(ctx context.Context, t *returns.Tx) error {
	_, err := s.issue(ctx, t, "")
	return err
}

// Void voids every issued label of a return that was cancelled, rejected or
// expired, in that change's transaction, and schedules the carrier's void of each.
func (s *Service) Void(ctx context.Context, t *returns.Tx) error {
	return voidAll(ctx, t.Tx, t.Return)
}

// carrierByCode is m's carrier with that code (the one that issued a label, which
// may not be the one m uses now).
func (s *Service) carrierByCode(m merchant.Merchant, cs merchant.CarrierSettings, code string) (Carrier, error) {
	if s.carrier != nil && s.carrier.Code() == code {
		return s.carrier, nil
	}
	if code == merchant.CarrierShippo {
		if cs.ShippoToken == "" {
			return nil, errors.New("labels: the merchant has no Shippo token")
		}
		return NewShippoCarrier(shippo.New(shippo.Config{Token: cs.ShippoToken, APIBase: s.Shippo.APIBase,
			HTTPClient: s.Shippo.HTTPClient, Timeout: s.Shippo.Timeout, MaxRetries: s.Shippo.MaxRetries,
			Backoff: s.Shippo.Backoff}), cs), nil
	}
	return s.own(m), nil
}

// own is m's own courier.
func (s *Service) own(m merchant.Merchant) Carrier {
	if s.carrier != nil && !s.carrier.Remote() {
		return s.carrier
	}
	country := m.Settings.Warehouse.Country
	if country == "" {
		country = DefaultCountry
	}
	c, err := NewOwnCourier(DefaultCarrierName, DefaultServiceIndicator, country)
	if err != nil { // a country of the settings that S10 does not take
		c, _ = NewOwnCourier(DefaultCarrierName, DefaultServiceIndicator, DefaultCountry)
	}
	return c
}

// nextParcel is the number of a return's next parcel, in an insert whose $1 and $2
// are its merchant and return (locked by the caller, so no other booking runs).
const nextParcel = `(SELECT coalesce(max(number), 0) + 1 FROM parcels WHERE merchant_id = $1 AND return_id = $2)`

// issue books the next parcel of r, which the caller locked in tx, and
// schedules its expiry at its validity's end. key is the request's
// idempotency key, or "".
func (s *Service) issue(ctx context.Context, t *returns.Tx, key string) (Parcel, error) {
	tx, r := t.Tx, t.Return
	m, err := s.merchants.In(ctx, tx, r.MerchantID)
	if err != nil {
		return Parcel{}, err
	}
	pol, err := t.Policy(ctx)
	if err != nil {
		return Parcel{}, err
	}
	rec, err := t.Order(ctx)
	if err != nil {
		return Parcel{}, err
	}
	o := rec.Order
	c := s.carrier
	if c == nil {
		cs, err := s.merchants.CarrierIn(ctx, tx, m.ID)
		if err == nil {
			c, err = s.carrierByCode(m, cs, cs.Carrier)
		}
		if err != nil {
			return Parcel{}, fmt.Errorf("labels: carrier of merchant %d: %w", m.ID, err)
		}
	}
	days := pol.LabelValidityDays
	if days <= 0 {
		days = returns.DefaultPolicy().LabelValidityDays
	}
	var idem *string
	if key != "" {
		idem = &key
	}
	if c.Remote() {
		// bought by the KindBuy job after the commit: "label being prepared" until then
		return s.prepare(ctx, t, c, days, idem)
	}
	var p Parcel
	for attempt := 0; ; attempt++ {
		serial, err := s.serials.take(ctx, tx)
		if err != nil {
			return Parcel{}, err
		}
		// the own courier numbers a parcel by its serial alone; the parcel's
		// number is the insert's (nextParcel)
		iss, err := c.Issue(ctx, IssueRequest{
			Serial: serial, Reference: r.RMA, From: shopperAddress(o), To: warehouseAddress(m),
		})
		if err != nil {
			return Parcel{}, fmt.Errorf("labels: issue a parcel of %s: %w", r.RMA, err)
		}
		// a tracking number still on record (the serial sequence wrapped) inserts
		// nothing: take the next serial
		err = tx.GetContext(ctx, &p, `INSERT INTO parcels (merchant_id, return_id, number, carrier, service,
			tracking_number, valid_until, idempotency_key)
			VALUES ($1, $2, `+nextParcel+`, $3, $4, $5, now() + make_interval(days => $6), $7)
			ON CONFLICT (merchant_id, tracking_number) DO NOTHING
			RETURNING `+parcelCols, r.MerchantID, r.ID, c.Code(), iss.Service,
			NormalizeTracking(iss.TrackingNumber), days, idem)
		if errors.Is(err, sql.ErrNoRows) && attempt < 3 {
			continue
		}
		if errors.Is(err, sql.ErrNoRows) {
			return Parcel{}, fmt.Errorf("labels: insert a parcel of %s: tracking number %s is taken", r.RMA, iss.TrackingNumber)
		}
		if err != nil {
			return Parcel{}, fmt.Errorf("labels: insert a parcel of %s: %w", r.RMA, err)
		}
		break
	}
	if p.Number > MaxParcels {
		return Parcel{}, ErrTooManyParcels // the caller's transaction, rolled back, undoes the insert
	}
	p.LabelURL = labelURL(r.RMA, p.Number)
	// label.issued, and the label's expiry at the end of its validity, in one
	// statement, with the writes of the change that issued it not made yet (an
	// approval and its notice: returns.Effects)
	expire := outbox.Message{MerchantID: r.MerchantID, Kind: KindExpire, RunAt: p.ValidUntil,
		Payload: expireJob{ReturnID: r.ID, Parcel: p.Number}}
	if err := s.publishCarrying(ctx, tx, r.MerchantID, notify.LabelIssued, p, t.Carried(), expire); err != nil {
		return Parcel{}, err
	}
	return p, nil
}

// Publisher publishes an event to the shop's webhook endpoints in the caller's
// transaction (notify.Service), with the caller's jobs for the same change.
type Publisher interface {
	Publish(ctx context.Context, tx sqlx.ExtContext, merchantID int64, eventType notify.EventType, data any, jobs ...outbox.Message) error
	// PublishCarrying is Publish whose statement makes carried's writes first.
	PublishCarrying(ctx context.Context, tx sqlx.ExtContext, merchantID int64, eventType notify.EventType, data any,
		carried []outbox.Part, jobs ...outbox.Message) error
}

// publish publishes an event with jobs; without a Publisher it enqueues the jobs alone.
func (s *Service) publish(ctx context.Context, tx sqlx.ExtContext, merchantID int64, typ notify.EventType, data any, jobs ...outbox.Message) error {
	return s.publishCarrying(ctx, tx, merchantID, typ, data, nil, jobs...)
}

// publishCarrying is publish whose statement makes carried's writes first (those of
// the return's change that issued the label: returns.Tx.Carried).
func (s *Service) publishCarrying(ctx context.Context, tx sqlx.ExtContext, merchantID int64, typ notify.EventType, data any,
	carried []outbox.Part, jobs ...outbox.Message) error {
	if s.Publisher == nil {
		_, _, err := outbox.EnqueueParts(ctx, tx, carried, jobs...)
		return err
	}
	return s.Publisher.PublishCarrying(ctx, tx, merchantID, typ, data, carried, jobs...)
}

// voidAll voids every issued parcel of r, which the caller locked in tx, and
// schedules the carrier's void of each after the commit.
func voidAll(ctx context.Context, tx *sqlx.Tx, r *returns.Return) error {
	var ids []int64
	err := tx.SelectContext(ctx, &ids, `UPDATE parcels SET status = 'voided', voided_at = now()
		WHERE merchant_id = $1 AND return_id = $2 AND status IN ('issued', 'preparing') RETURNING id`, r.MerchantID, r.ID)
	if err != nil {
		return fmt.Errorf("labels: void parcels of %d: %w", r.ID, err)
	}
	msgs := make([]outbox.Message, len(ids))
	for i, id := range ids {
		msgs[i] = outbox.Message{MerchantID: r.MerchantID, Kind: KindVoid, Payload: voidJob{ParcelID: id}}
	}
	_, err = outbox.Enqueue(ctx, tx, msgs...)
	return err
}

// AddParcel issues one more parcel for a return that still waits for its
// parcels (approved, in transit or partially received) and returns all its
// parcels. A retry with the same idempotency key (as scoped by
// idempotency.FromContext) adds nothing.
func (s *Service) AddParcel(ctx context.Context, merchantID, returnID int64, key string) ([]Parcel, error) {
	var list []Parcel
	_, err := s.store.Update(ctx, merchantID, returnID, func(ctx context.Context, t *returns.Tx) error {
		r := t.Return
		if key != "" {
			var owner int64
			err := t.GetContext(ctx, &owner, `SELECT return_id FROM parcels WHERE merchant_id = $1 AND idempotency_key = $2`, merchantID, key)
			if err == nil && owner == r.ID {
				var err error
				list, err = parcels(ctx, t.Tx, merchantID, r)
				return err
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("labels: parcel by key: %w", err)
			}
			if err == nil {
				key = "" // the key made a parcel of another return: do not reuse it here
			}
		}
		switch r.State {
		case returns.StateApproved, returns.StateInTransit, returns.StatePartiallyReceived:
		default:
			return &ClosedError{State: r.State}
		}
		if r.KeepIt {
			return noLabels(r)
		}
		if _, err := s.issue(ctx, t, key); err != nil {
			return err
		}
		var err error
		list, err = parcels(ctx, t.Tx, merchantID, r)
		return err
	})
	return list, err
}

// Parcels returns the parcels of a return, by number.
func (s *Service) Parcels(ctx context.Context, r *returns.Return) ([]Parcel, error) {
	return parcels(ctx, s.db, r.MerchantID, r)
}

func parcels(ctx context.Context, q sqlx.QueryerContext, merchantID int64, r *returns.Return) ([]Parcel, error) {
	list := []Parcel{}
	err := sqlx.SelectContext(ctx, q, &list, `SELECT `+parcelCols+` FROM parcels
		WHERE merchant_id = $1 AND return_id = $2 ORDER BY number`, merchantID, r.ID)
	if err != nil {
		return nil, fmt.Errorf("labels: parcels of %d: %w", r.ID, err)
	}
	for i := range list {
		list[i].LabelURL = labelURL(r.RMA, list[i].Number)
		list[i].DropOffURL = DropOffLocator(list[i].CarrierName)
	}
	return list, nil
}

func labelURL(rma string, n int) string {
	return fmt.Sprintf("/v1/returns/%s/label?parcel=%d", rma, n)
}

// Label assembles the label of parcel n of r for printing in format f.
// origin is the public URL to use when the service has no base URL. It
// answers ErrNoLabels for a return without parcels, ErrNoParcel for a number
// it does not have, a *VoidedError for a voided parcel and ErrNoReturnAddress
// when the merchant has not set its warehouse.
func (s *Service) Label(ctx context.Context, r *returns.Return, n int, f Format, origin string) (Label, error) {
	list, err := s.Parcels(ctx, r)
	if err != nil {
		return Label{}, err
	}
	if err := labelable(r, list, n); err != nil {
		return Label{}, err
	}
	rec, err := s.store.OrderByID(ctx, r.MerchantID, r.OrderID)
	if err != nil {
		return Label{}, err
	}
	return s.label(ctx, r, rec.Order, list, n, f, origin)
}

// labelable says why parcel n of the parcels list of r has no label to print, if it
// has none.
func labelable(r *returns.Return, list []Parcel, n int) error {
	if len(list) == 0 {
		return noLabels(r)
	}
	if n < 1 || n > len(list) || list[n-1].Number != n {
		return &NoParcelError{RMA: r.RMA}
	}
	p := list[n-1]
	if p.Status == ParcelVoided {
		return &VoidedError{Parcel: p, State: r.State}
	}
	if p.Status == ParcelPreparing {
		return &PreparingError{Parcel: p}
	}
	return nil
}

// label is Label for a return whose order o and parcels list the caller read.
func (s *Service) label(ctx context.Context, r *returns.Return, o returns.Order, list []Parcel, n int, f Format, origin string) (Label, error) {
	if err := labelable(r, list, n); err != nil {
		return Label{}, err
	}
	p := list[n-1]
	m, err := s.merchants.Get(ctx, r.MerchantID)
	if err != nil {
		return Label{}, err
	}
	to := warehouseAddress(m)
	if blankAddress(to) {
		return Label{}, ErrNoReturnAddress
	}
	carrier := s.carrierName(ctx, m, p)
	items := 0
	for _, it := range r.Items {
		items += it.Quantity
	}
	base := s.baseURL
	if base == "" {
		base = strings.TrimRight(origin, "/")
	}
	return Label{
		Format:         f,
		Carrier:        carrier,
		Service:        p.Service,
		TrackingNumber: p.TrackingNumber,
		RMA:            r.RMA,
		StatusURL:      base + "/portal/" + m.Slug + "/returns/" + r.RMA,
		From:           shopperAddress(o),
		To:             to,
		Parcel:         p.Number,
		Parcels:        len(list),
		ItemCount:      items,
		IssuedAt:       p.IssuedAt,
		ValidUntil:     p.ValidUntil,
		MerchantName:   m.Name,
	}, nil
}

func shopperAddress(o returns.Order) Address {
	c := o.Customer
	return Address{
		Name:       strings.TrimSpace(c.FirstName + " " + c.LastName),
		Line1:      c.Address.Line1,
		Line2:      c.Address.Line2,
		City:       c.Address.City,
		Region:     c.Address.Region,
		PostalCode: c.Address.PostalCode,
		Country:    c.Address.Country,
	}
}

func warehouseAddress(m merchant.Merchant) Address {
	w := m.Settings.Warehouse
	a := Address{
		Name:       w.Name,
		Line1:      w.Line1,
		Line2:      w.Line2,
		City:       w.City,
		Region:     w.Region,
		PostalCode: w.PostalCode,
		Country:    w.Country,
	}
	if a.Name == "" {
		a.Name = m.Name
	} else if !strings.EqualFold(a.Name, m.Name) {
		a.Company = m.Name
	}
	return a
}

// ---- carrier events

// CarrierEvent is a carrier's report about one parcel.
//
// Status is one of pre_transit (the carrier has the label data), in_transit,
// out_for_delivery, delivered or exception. The three in the middle mean the
// carrier has the parcel and it is moving; pre_transit and exception (a
// problem, which may come before pick-up) only update the parcel's carrier
// status.
type CarrierEvent struct {
	TrackingNumber string    // in any spacing or case
	Status         string    // see above
	OccurredAt     time.Time // zero (or in the future): now
	Detail         string    // the carrier's words, kept with the parcel
	// Problem, when set, is what staff should look at (a parcel returned to the
	// shopper, a failed delivery); it is kept with the parcel and noted in the
	// return's timeline.
	Problem string
}

var moving = map[string]string{
	"in_transit":       "in transit",
	"out_for_delivery": "out for delivery",
	"delivered":        "delivered",
}

// CarrierUpdate is what a carrier event did.
type CarrierUpdate struct {
	Parcel        Parcel        `json:"parcel"`
	RMA           string        `json:"rma" example:"R-7KQ4-M2XD"`
	ReturnState   returns.State `json:"return_state" enum:"requested,approved,in_transit,partially_received,received,resolving,completed,refund_failed,rejected,cancelled,expired" example:"in_transit" doc:"The return's state after the event."`
	FirstMovement bool          `json:"first_movement" doc:"True when this event was the parcel's first movement. That one is recorded in the return's timeline (an approved return moves to in_transit) unless the return has ended; repeats and later events are recorded on the parcel only."`
}

// RecordCarrierEvent applies a carrier event to the merchant's parcel with
// that tracking number (ErrNoParcel when there is none). The carrier status
// is kept from the latest event by occurrence; the first movement sets the
// parcel's moved_at and applies returns.EventCarrierScan (actor "carrier")
// when the return's state accepts it, so an approved return goes in transit.
// Repeated events change nothing else.
func (s *Service) RecordCarrierEvent(ctx context.Context, merchantID int64, ev CarrierEvent) (CarrierUpdate, error) {
	tn := NormalizeTracking(ev.TrackingNumber)
	now := time.Now()
	at := ev.OccurredAt
	if at.IsZero() || at.After(now) {
		at = now
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return CarrierUpdate{}, err
	}
	defer tx.Rollback()
	var returnID int64
	err = tx.GetContext(ctx, &returnID, `SELECT return_id FROM parcels WHERE merchant_id = $1 AND tracking_number = $2`, merchantID, tn)
	if errors.Is(err, sql.ErrNoRows) {
		return CarrierUpdate{}, ErrNoParcel
	}
	if err != nil {
		return CarrierUpdate{}, fmt.Errorf("labels: parcel by tracking number: %w", err)
	}
	// the return's lock first, as every writer of a return's parcels takes them
	t, err := s.store.Lock(ctx, tx, merchantID, returnID)
	if err != nil {
		return CarrierUpdate{}, err
	}
	r := t.Return
	var before Parcel
	err = tx.GetContext(ctx, &before, `SELECT `+parcelCols+` FROM parcels WHERE merchant_id = $1 AND tracking_number = $2 FOR UPDATE`, merchantID, tn)
	if err != nil {
		return CarrierUpdate{}, fmt.Errorf("labels: lock parcel: %w", err)
	}
	what, moves := moving[ev.Status]
	var p Parcel
	err = tx.GetContext(ctx, &p, `UPDATE parcels SET
			carrier_status = CASE WHEN carrier_status_at IS NULL OR carrier_status_at <= $3 THEN $2 ELSE carrier_status END,
			carrier_status_at = greatest(carrier_status_at, $3),
			moved_at = CASE WHEN $4 THEN least(coalesce(moved_at, $3), $3) ELSE moved_at END,
			carrier_detail = CASE WHEN carrier_status_at IS NULL OR carrier_status_at <= $3 THEN nullif($5, '') ELSE carrier_detail END,
			problem = coalesce(nullif($6, ''), problem)
		WHERE id = $1 RETURNING `+parcelCols, before.ID, ev.Status, at, moves, ev.Detail, ev.Problem)
	if err != nil {
		return CarrierUpdate{}, fmt.Errorf("labels: record carrier event: %w", err)
	}
	out := CarrierUpdate{RMA: r.RMA, FirstMovement: moves && before.MovedAt == nil}
	p.LabelURL = labelURL(r.RMA, p.Number)
	if out.FirstMovement {
		if err := s.publish(ctx, tx, merchantID, notify.ParcelInTransit, p); err != nil {
			return CarrierUpdate{}, err
		}
	}
	if ev.Status == "delivered" && (before.CarrierStatus == nil || *before.CarrierStatus != "delivered") {
		if err := s.publish(ctx, tx, merchantID, notify.ParcelDelivered, p); err != nil {
			return CarrierUpdate{}, err
		}
	}
	m, err := merchant.GetIn(ctx, tx, merchantID)
	if err != nil {
		return CarrierUpdate{}, err
	}
	name := s.carrierName(ctx, m, p)
	if out.FirstMovement {
		if _, err := returns.Next(r.State, returns.EventCarrierScan); err == nil {
			note := fmt.Sprintf("%s reported parcel %d (%s) %s.", name, p.Number, p.TrackingNumber, what)
			if err := t.Transition(ctx, returns.EventCarrierScan, "carrier", note); err != nil {
				return CarrierUpdate{}, err
			}
		}
	}
	if ev.Status == "delivered" && (before.CarrierStatus == nil || *before.CarrierStatus != "delivered") && p.ArrivedAt == nil {
		note := fmt.Sprintf("%s delivered parcel %d (%s): it arrived at the warehouse dock and waits to be unpacked.", name, p.Number, p.TrackingNumber)
		if err := t.Note(ctx, "carrier", "delivered", note); err != nil {
			return CarrierUpdate{}, err
		}
	}
	if ev.Problem != "" && (before.Problem == nil || *before.Problem != ev.Problem) {
		note := fmt.Sprintf("Parcel %d (%s): %s Staff should contact %s.", p.Number, p.TrackingNumber, ev.Problem, name)
		if err := t.Note(ctx, "carrier", "carrier_problem", note); err != nil {
			return CarrierUpdate{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return CarrierUpdate{}, err
	}
	p.LabelURL = labelURL(r.RMA, p.Number)
	out.Parcel, out.ReturnState = p, r.State
	return out, nil
}

// RotateCarrierSecret gives the merchant a new carrier secret and returns it, in
// the caller's transaction tx; the previous one stops working when tx commits
// (merchant.Store.RotateCarrierSecret).
func (s *Service) RotateCarrierSecret(ctx context.Context, tx *sqlx.Tx, merchantID int64) (string, error) {
	return s.merchants.WithTx(tx).RotateCarrierSecret(ctx, merchantID)
}

// MerchantForSecret returns the merchant a carrier secret belongs to, or
// ErrBadSecret.
func (s *Service) MerchantForSecret(ctx context.Context, secret string) (int64, error) {
	id, err := s.merchants.ForCarrierSecret(ctx, secret)
	if errors.Is(err, merchant.ErrBadCarrierSecret) {
		return 0, ErrBadSecret
	}
	return id, err
}
