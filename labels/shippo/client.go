// Package shippo is a small typed client of Shippo's REST API (API version
// 2018-02-08): return shipments and their rates, label purchases (transactions),
// refunds of unused labels, and tracking. It speaks JSON over net/http with
// `Authorization: ShippoToken …` and the SHIPPO-API-VERSION header, bounds every
// request with a timeout, and retries what may be retried (429 and 5xx answers and
// network errors) with exponential backoff.
//
// A label purchase (POST /transactions) is not idempotent at Shippo: a second
// request buys a second label. The client therefore retries it only when Shippo
// refused it before doing anything (429); callers that lose an answer look the
// purchase up by its metadata (FindTransaction) before buying again.
package shippo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/internal/keepalive"
)

// DefaultAPIBase is Shippo's API.
const DefaultAPIBase = "https://api.goshippo.com"

// APIVersion is the Shippo API version the client speaks.
const APIVersion = "2018-02-08"

// Config configures a Client.
type Config struct {
	// Token is the merchant's Shippo API token (shippo_live_… or shippo_test_…).
	Token string
	// APIBase is Shippo's URL (DefaultAPIBase when empty); tests point it at a fake.
	APIBase string
	// HTTPClient sends the requests (a client of its own when nil).
	HTTPClient *http.Client
	// Timeout bounds each attempt (default 20 s).
	Timeout time.Duration
	// MaxRetries is how many times a retryable failure is tried again (default 3;
	// negative: none).
	MaxRetries int
	// Backoff is the delay before retry n (from 1); default 500 ms · 2^(n−1) with
	// jitter, or what a 429's Retry-After asks, at most 10 s.
	Backoff func(n int) time.Duration
}

// Client talks to Shippo for one account.
type Client struct {
	cfg Config
}

// New returns a client.
func New(cfg Config) *Client {
	if cfg.APIBase == "" {
		cfg.APIBase = DefaultAPIBase
	}
	cfg.APIBase = strings.TrimRight(cfg.APIBase, "/")
	if cfg.HTTPClient == nil {
		// the shared keep-alive transport: a client is made per merchant, and
		// connections (and their TLS sessions) outlive it
		cfg.HTTPClient = keepalive.Client(0)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	if cfg.Backoff == nil {
		cfg.Backoff = backoff
	}
	return &Client{cfg: cfg}
}

func backoff(n int) time.Duration {
	d := 500 * time.Millisecond << min(n-1, 5)
	return d/2 + rand.N(d/2+1)
}

// Error is an answer other than 2xx, or a request that got no answer.
type Error struct {
	Method, Path string
	// Status is the HTTP status, 0 when no answer came (timeout, refused connection).
	Status int
	// Body is the start of the answer.
	Body string
	// Err is the transport error when Status is 0.
	Err error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("shippo: %s %s: %v", e.Method, e.Path, e.Err)
	}
	return fmt.Sprintf("shippo: %s %s: %d %s", e.Method, e.Path, e.Status, strings.TrimSpace(e.Body))
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may succeed: no answer, 429 or 5xx.
func (e *Error) Temporary() bool {
	return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// IsTemporary reports whether err is a Shippo failure worth retrying later.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary()
}

// retry says which failures of a request may be sent again.
type retry int

const (
	retryAll   retry = iota // idempotent: every temporary failure
	retry429                // not idempotent: only a 429 (refused before it ran)
	retryNever              // not at all
)

// do sends one request (with retries per r) and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any, r retry) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	u := c.cfg.APIBase + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	for attempt := 0; ; attempt++ {
		wait, err := c.once(ctx, method, u, path, payload, out)
		if err == nil {
			return nil
		}
		var e *Error
		retryable := errors.As(err, &e) && e.Temporary() && ctx.Err() == nil
		switch r {
		case retry429:
			retryable = retryable && e.Status == http.StatusTooManyRequests
		case retryNever:
			retryable = false
		}
		if !retryable || attempt >= c.cfg.MaxRetries {
			return err
		}
		d := c.cfg.Backoff(attempt + 1)
		if wait > 0 {
			d = min(wait, 10*time.Second)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// once sends one attempt; wait is what a 429's Retry-After asked.
func (c *Client) once(ctx context.Context, method, u, path string, payload []byte, out any) (wait time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "ShippoToken "+c.cfg.Token)
	req.Header.Set("SHIPPO-API-VERSION", APIVersion)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, &Error{Method: method, Path: path, Err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return 0, &Error{Method: method, Path: path, Err: err}
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		if len(b) > 1000 {
			b = b[:1000]
		}
		return wait, &Error{Method: method, Path: path, Status: res.StatusCode, Body: string(b)}
	}
	if out == nil {
		return 0, nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return 0, fmt.Errorf("shippo: %s %s: decode answer: %w", method, path, err)
	}
	return 0, nil
}

// ---- types (the fields Roundtrip uses)

// Address is a postal address.
type Address struct {
	Name    string `json:"name,omitempty"`
	Company string `json:"company,omitempty"`
	Street1 string `json:"street1,omitempty"`
	Street2 string `json:"street2,omitempty"`
	City    string `json:"city,omitempty"`
	State   string `json:"state,omitempty"`
	Zip     string `json:"zip,omitempty"`
	Country string `json:"country"`
	Phone   string `json:"phone,omitempty"`
	Email   string `json:"email,omitempty"`
}

// Parcel is a box's dimensions and weight, as decimal strings in their units.
type Parcel struct {
	Length       string `json:"length"`
	Width        string `json:"width"`
	Height       string `json:"height"`
	DistanceUnit string `json:"distance_unit"`
	Weight       string `json:"weight"`
	MassUnit     string `json:"mass_unit"`
}

// ShipmentExtra holds the extra services Roundtrip asks for.
type ShipmentExtra struct {
	// IsReturn makes it a return shipment (scan-based where the carrier offers it).
	IsReturn bool `json:"is_return,omitempty"`
	// QRCodeRequested asks for a QR code the shopper shows at the counter instead of
	// a printed label (USPS domestic and Evri UK).
	QRCodeRequested bool `json:"qr_code_requested,omitempty"`
}

// ShipmentRequest creates a shipment and gets its rates.
type ShipmentRequest struct {
	AddressFrom     Address        `json:"address_from"`
	AddressTo       Address        `json:"address_to"`
	Parcels         []Parcel       `json:"parcels"`
	Extra           *ShipmentExtra `json:"extra,omitempty"`
	CarrierAccounts []string       `json:"carrier_accounts,omitempty"`
	Metadata        string         `json:"metadata,omitempty"`
	Async           bool           `json:"async"`
}

// ServiceLevel is a carrier's service.
type ServiceLevel struct {
	Name  string `json:"name"`
	Token string `json:"token"`
}

// Rate is a price to ship a shipment with one service.
type Rate struct {
	ObjectID       string       `json:"object_id"`
	Amount         string       `json:"amount"`
	Currency       string       `json:"currency"`
	Provider       string       `json:"provider"`
	ServiceLevel   ServiceLevel `json:"servicelevel"`
	CarrierAccount string       `json:"carrier_account"`
	EstimatedDays  int          `json:"estimated_days"`
}

// Message is a note Shippo attaches to an object (why no rates, why a purchase
// failed).
type Message struct {
	Source string `json:"source"`
	Code   string `json:"code"`
	Text   string `json:"text"`
}

// Shipment is a created shipment with its rates.
type Shipment struct {
	ObjectID string    `json:"object_id"`
	Status   string    `json:"status"`
	Rates    []Rate    `json:"rates"`
	Messages []Message `json:"messages"`
}

// TransactionRequest buys the label of a rate.
type TransactionRequest struct {
	Rate          string `json:"rate"`
	LabelFileType string `json:"label_file_type,omitempty"`
	Metadata      string `json:"metadata,omitempty"`
	Async         bool   `json:"async"`
}

// Transaction is a label purchase.
type Transaction struct {
	ObjectID            string          `json:"object_id"`
	ObjectCreated       time.Time       `json:"object_created"`
	Status              string          `json:"status"` // WAITING, QUEUED, SUCCESS, ERROR, REFUNDED, …
	Rate                json.RawMessage `json:"rate"`   // the rate's ID, or a simplified rate
	TrackingNumber      string          `json:"tracking_number"`
	TrackingURLProvider string          `json:"tracking_url_provider"`
	LabelURL            string          `json:"label_url"`
	QRCodeURL           string          `json:"qr_code_url"`
	Metadata            string          `json:"metadata"`
	Messages            []Message       `json:"messages"`
}

// RateID is the ID of the rate the transaction bought, whatever its form.
func (t Transaction) RateID() string {
	var id string
	if json.Unmarshal(t.Rate, &id) == nil {
		return id
	}
	var r struct {
		ObjectID string `json:"object_id"`
	}
	_ = json.Unmarshal(t.Rate, &r)
	return r.ObjectID
}

// Refund is the refund of an unused label.
type Refund struct {
	ObjectID    string `json:"object_id"`
	Status      string `json:"status"` // QUEUED, PENDING, SUCCESS, ERROR
	Transaction string `json:"transaction"`
}

// TrackingStatus is one tracking event.
type TrackingStatus struct {
	Status        string    `json:"status"` // UNKNOWN, PRE_TRANSIT, TRANSIT, DELIVERED, RETURNED, FAILURE
	StatusDetails string    `json:"status_details"`
	StatusDate    time.Time `json:"status_date"`
}

// Track is a parcel's tracking as Shippo knows it.
type Track struct {
	Carrier        string           `json:"carrier"`
	TrackingNumber string           `json:"tracking_number"`
	TrackingStatus *TrackingStatus  `json:"tracking_status"`
	History        []TrackingStatus `json:"tracking_history"`
	Transaction    string           `json:"transaction"`
	Metadata       string           `json:"metadata"`
}

// WebhookEvent is the body of a Shippo webhook; Data is a Track for track_updated.
type WebhookEvent struct {
	Event string          `json:"event"`
	Test  bool            `json:"test"`
	Data  json.RawMessage `json:"data"`
}

type page[T any] struct {
	Next    *string `json:"next"`
	Results []T     `json:"results"`
}

// ---- operations

// CreateShipment creates a shipment and answers it with its rates (synchronously).
func (c *Client) CreateShipment(ctx context.Context, req ShipmentRequest) (Shipment, error) {
	req.Async = false
	var out Shipment
	err := c.do(ctx, http.MethodPost, "/shipments", nil, req, &out, retryAll) // a spare shipment costs nothing
	return out, err
}

// GetRate reads a rate (the carrier, service and price of a purchase).
func (c *Client) GetRate(ctx context.Context, id string) (Rate, error) {
	var out Rate
	err := c.do(ctx, http.MethodGet, "/rates/"+url.PathEscape(id), nil, nil, &out, retryAll)
	return out, err
}

// CreateTransaction buys a rate's label. It is retried only after a 429: another
// failure may have bought it (see FindTransaction).
func (c *Client) CreateTransaction(ctx context.Context, req TransactionRequest) (Transaction, error) {
	req.Async = false
	var out Transaction
	err := c.do(ctx, http.MethodPost, "/transactions", nil, req, &out, retry429)
	return out, err
}

// GetTransaction reads a purchase.
func (c *Client) GetTransaction(ctx context.Context, id string) (Transaction, error) {
	var out Transaction
	err := c.do(ctx, http.MethodGet, "/transactions/"+url.PathEscape(id), nil, nil, &out, retryAll)
	return out, err
}

// ListTransactions lists purchases, newest first, one page of results.
func (c *Client) ListTransactions(ctx context.Context, pageNo, results int) ([]Transaction, bool, error) {
	q := url.Values{"page": {strconv.Itoa(pageNo)}, "results": {strconv.Itoa(results)}}
	var out page[Transaction]
	err := c.do(ctx, http.MethodGet, "/transactions", q, nil, &out, retryAll)
	return out.Results, out.Next != nil && *out.Next != "", err
}

// FindTransaction looks for the newest purchase with metadata among those made since
// since (it stops paging at older ones, and after 20 pages); nil when there is none.
func (c *Client) FindTransaction(ctx context.Context, metadata string, since time.Time) (*Transaction, error) {
	for p := 1; p <= 20; p++ {
		list, more, err := c.ListTransactions(ctx, p, 100)
		if err != nil {
			return nil, err
		}
		older := false
		for i := range list {
			if list[i].Metadata == metadata && list[i].Status != "ERROR" {
				return &list[i], nil
			}
			if !list[i].ObjectCreated.IsZero() && list[i].ObjectCreated.Before(since) {
				older = true
			}
		}
		if !more || older {
			return nil, nil
		}
	}
	return nil, nil
}

// CreateRefund asks Shippo to refund an unused label. It is not retried after a
// failure that may have reached Shippo: look for the refund with ListRefunds.
func (c *Client) CreateRefund(ctx context.Context, transactionID string) (Refund, error) {
	var out Refund
	err := c.do(ctx, http.MethodPost, "/refunds", nil, map[string]any{"transaction": transactionID, "async": false}, &out, retry429)
	return out, err
}

// ListRefunds lists the account's label refunds.
func (c *Client) ListRefunds(ctx context.Context) ([]Refund, error) {
	var out page[Refund]
	err := c.do(ctx, http.MethodGet, "/refunds/", nil, nil, &out, retryAll)
	return out.Results, err
}

// GetTrack reads the tracking of a parcel (carrier as Shippo names it: usps, ups, …).
func (c *Client) GetTrack(ctx context.Context, carrier, trackingNumber string) (Track, error) {
	var out Track
	err := c.do(ctx, http.MethodGet, "/tracks/"+url.PathEscape(carrier)+"/"+url.PathEscape(trackingNumber), nil, nil, &out, retryAll)
	return out, err
}

// RegisterTrack asks Shippo to send track_updated webhooks for a parcel (labels
// bought through Shippo are tracked without it).
func (c *Client) RegisterTrack(ctx context.Context, carrier, trackingNumber, metadata string) (Track, error) {
	var out Track
	body := map[string]string{"carrier": carrier, "tracking_number": trackingNumber}
	if metadata != "" {
		body["metadata"] = metadata
	}
	err := c.do(ctx, http.MethodPost, "/tracks", nil, body, &out, retryAll)
	return out, err
}

// Download fetches a file Shippo links to (a label, a QR code). The links are
// signed, so no token is sent to other hosts than the API's.
func (c *Client) Download(ctx context.Context, fileURL string) ([]byte, string, error) {
	u, err := url.Parse(fileURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, "", fmt.Errorf("shippo: file URL %q is not a web address", fileURL)
	}
	var body []byte
	var ctype string
	for attempt := 0; ; attempt++ {
		body, ctype, err = c.download(ctx, u)
		if err == nil || !IsTemporary(err) || attempt >= c.cfg.MaxRetries || ctx.Err() != nil {
			return body, ctype, err
		}
		t := time.NewTimer(c.cfg.Backoff(attempt + 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, "", err
		case <-t.C:
		}
	}
}

func (c *Client) download(ctx context.Context, u *url.URL) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", err
	}
	if base, err := url.Parse(c.cfg.APIBase); err == nil && base.Host == u.Host {
		req.Header.Set("Authorization", "ShippoToken "+c.cfg.Token)
	}
	res, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, "", &Error{Method: "GET", Path: u.Path, Err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, "", &Error{Method: "GET", Path: u.Path, Err: err}
	}
	if res.StatusCode != http.StatusOK {
		return nil, "", &Error{Method: "GET", Path: u.Path, Status: res.StatusCode, Body: string(b[:min(len(b), 300)])}
	}
	return b, res.Header.Get("Content-Type"), nil
}
