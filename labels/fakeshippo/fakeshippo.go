// Package fakeshippo is a stateful imitation of the part of Shippo's REST API that
// Roundtrip uses: return shipments with rates, label purchases (transactions) with
// their PDF label and QR code files, refunds of unused labels, tracking, and
// track_updated webhooks. The client in labels/shippo works against it unmodified
// (point its APIBase at Server.URL).
//
// Prism checks the shape of requests against Shippo's own description but remembers
// nothing. This fake remembers every shipment, purchase and refund, so tests and demos
// can check that a label is bought exactly once (Purchases), voided once (Refunds),
// move parcels along (SetTracking sends the webhook), and inject the faults that
// Shippo and networks produce (Fault): timeouts, 500, 429 and an answer lost after the
// purchase was made.
//
// It is a normal package, not a test helper: `roundtrip serve --fake-shippo` runs it
// in the process for a demo of the Shippo path without the internet.
package fakeshippo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/jung-kurt/gofpdf"
)

// RateOption is a service the fake offers on every shipment.
type RateOption struct {
	Provider     string // "USPS"
	Token        string // "usps_ground_advantage"
	Name         string // "Ground Advantage"
	Amount       string // "5.50"
	Currency     string // "USD"
	QRCode       bool   // the carrier offers QR codes instead of printed labels
	TrackingBase string // prefix of tracking numbers
}

// DefaultRates are offered when Options.Rates is empty.
var DefaultRates = []RateOption{
	{Provider: "USPS", Token: "usps_ground_advantage", Name: "Ground Advantage", Amount: "5.50", Currency: "USD", QRCode: true, TrackingBase: "9205"},
	{Provider: "USPS", Token: "usps_priority", Name: "Priority Mail", Amount: "8.70", Currency: "USD", QRCode: true, TrackingBase: "9405"},
	{Provider: "UPS", Token: "ups_ground", Name: "Ground", Amount: "9.15", Currency: "USD", TrackingBase: "1Z"},
}

// Options configure a Server.
type Options struct {
	// Token is the API token accepted; empty accepts any ShippoToken.
	Token string
	// Rates are the services offered on every shipment (DefaultRates when empty).
	Rates []RateOption
	// WebhookURL receives track_updated events (SetTracking); empty sends none.
	WebhookURL string
	// Addr is the address to listen on; empty means a random port on 127.0.0.1.
	Addr string
}

// FaultKind is a failure to inject.
type FaultKind int

const (
	// Status500 answers 500 without doing anything.
	Status500 FaultKind = iota
	// Status429 answers 429 with Retry-After: 0 without doing anything.
	Status429
	// Timeout holds the request without doing anything until the client gives up.
	Timeout
	// LostResponse does the request (a purchase is made) and then holds the answer
	// until the client gives up, as a connection lost after the work was done.
	LostResponse
)

// Fault makes the next Times requests matching Method and Path (a prefix) fail.
type Fault struct {
	Kind   FaultKind
	Method string
	Path   string
	Times  int
}

// Request is a request the fake received.
type Request struct {
	Method, Path string
	Fault        *FaultKind
}

// Transaction is a label purchase as the fake keeps it.
type Transaction struct {
	ID             string
	Created        time.Time
	Rate           string
	Shipment       string
	Provider       string
	Service        string
	Amount         string
	Currency       string
	TrackingNumber string
	LabelFileType  string
	Metadata       string
	QRCode         bool
	Status         string // SUCCESS, REFUNDPENDING, REFUNDED
	Tracking       string // the tracking status: UNKNOWN, PRE_TRANSIT, TRANSIT, …
	TrackingDate   time.Time

	pdf []byte // the label file, drawn at the purchase
}

type shipment struct {
	id    string
	extra map[string]any
	rates []rate
}

type rate struct {
	id       string
	shipment string
	opt      RateOption
}

type refund struct {
	ID          string
	Transaction string
	Status      string
	Created     time.Time
}

// Server is a running fake.
type Server struct {
	opts   Options
	srv    *httptest.Server
	client *http.Client

	mu           sync.Mutex
	shipments    map[string]*shipment
	rates        map[string]rate
	transactions []*Transaction // in order of purchase
	refunds      []refund
	faults       []Fault
	requests     []Request
	webhookURL   string
	serial       int
}

// New starts a fake Shippo.
func New(opts Options) *Server {
	if len(opts.Rates) == 0 {
		opts.Rates = DefaultRates
	}
	s := &Server{opts: opts, shipments: map[string]*shipment{}, rates: map[string]rate{},
		webhookURL: opts.WebhookURL, client: &http.Client{Timeout: 10 * time.Second}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if opts.Addr != "" {
		l, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			panic(fmt.Sprintf("fakeshippo: listen on %s: %v", opts.Addr, err))
		}
		s.srv.Listener = l
	}
	s.srv.Start()
	return s
}

// URL is the fake's base URL (the client's APIBase).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the fake.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// SetWebhookURL changes where track_updated events go.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = u
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, f)
}

// ClearFaults drops the faults not used up yet: Shippo is back.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Purchases is every label bought, in order.
func (s *Server) Purchases() []Transaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Transaction, len(s.transactions))
	for i, t := range s.transactions {
		out[i] = *t
	}
	return out
}

// Refunds is every label refund asked for, in order: transaction IDs.
func (s *Server) Refunds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.refunds {
		out = append(out, r.Transaction)
	}
	return out
}

// Requests is every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) id() string {
	return strings.ToLower(rand.Text())
}

// SetTracking moves the parcel with tracking number tn to status (TRANSIT,
// DELIVERED, …) and sends the track_updated webhook, once (an error when the webhook
// is refused).
func (s *Server) SetTracking(ctx context.Context, tn, status, details string) error {
	s.mu.Lock()
	var t *Transaction
	for _, x := range s.transactions {
		if x.TrackingNumber == tn {
			t = x
		}
	}
	if t == nil {
		s.mu.Unlock()
		return fmt.Errorf("fakeshippo: no label with tracking number %s", tn)
	}
	t.Tracking, t.TrackingDate = status, time.Now().UTC().Truncate(time.Second)
	body := map[string]any{"event": "track_updated", "test": true, "data": s.track(t, details)}
	hook := s.webhookURL
	s.mu.Unlock()
	if hook == "" {
		return nil
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("fakeshippo: webhook answered %d", res.StatusCode)
	}
	return nil
}

// SetTrackingQuietly moves a parcel's tracking status without a webhook, as when
// Shippo's webhook is lost: only a poll finds it.
func (s *Server) SetTrackingQuietly(tn, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.transactions {
		if x.TrackingNumber == tn {
			x.Tracking, x.TrackingDate = status, time.Now().UTC().Truncate(time.Second)
		}
	}
}

// track renders t's tracking as Shippo's Track object; s.mu is held.
func (s *Server) track(t *Transaction, details string) map[string]any {
	status := t.Tracking
	if status == "" {
		status = "UNKNOWN"
	}
	at := t.TrackingDate
	if at.IsZero() {
		at = t.Created
	}
	if details == "" {
		details = strings.ToLower(strings.ReplaceAll(status, "_", " "))
	}
	st := map[string]any{"object_created": at, "object_updated": at, "object_id": "ts_" + t.ID,
		"status": status, "status_details": details, "status_date": at}
	return map[string]any{"carrier": strings.ToLower(t.Provider), "tracking_number": t.TrackingNumber,
		"tracking_status": st, "tracking_history": []any{st}, "messages": []string{}, "transaction": t.ID,
		"metadata": t.Metadata}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if strings.HasPrefix(path, "/files/") {
		s.file(w, r, strings.TrimPrefix(path, "/files/"))
		return
	}
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "ShippoToken ")
	if !ok || token == "" || (s.opts.Token != "" && token != s.opts.Token) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"detail": "Invalid token."})
		return
	}
	s.mu.Lock()
	var fault *FaultKind
	for i := range s.faults {
		f := &s.faults[i]
		if f.Times > 0 && (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(path, f.Path) {
			f.Times--
			k := f.Kind
			fault = &k
			break
		}
	}
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Fault: fault})
	s.mu.Unlock()
	if fault != nil {
		switch *fault {
		case Status500:
			writeJSON(w, http.StatusInternalServerError, map[string]any{"detail": "Internal server error (injected)."})
			return
		case Status429:
			w.Header().Set("Retry-After", "0")
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"detail": "Too many requests (injected)."})
			return
		case Timeout:
			<-r.Context().Done()
			return
		case LostResponse:
			s.route(httptest.NewRecorder(), r, path)
			<-r.Context().Done()
			return
		}
	}
	s.route(w, r, path)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, path string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && path == "/shipments":
		s.createShipment(w, r)
	case r.Method == http.MethodPost && path == "/transactions":
		s.createTransaction(w, r)
	case r.Method == http.MethodGet && path == "/transactions":
		s.listTransactions(w, r)
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "transactions":
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, t := range s.transactions {
			if t.ID == parts[1] {
				writeJSON(w, http.StatusOK, s.transactionJSON(t))
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "rates":
		s.mu.Lock()
		defer s.mu.Unlock()
		rt, ok := s.rates[parts[1]]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
			return
		}
		writeJSON(w, http.StatusOK, rateJSON(rt))
	case r.Method == http.MethodPost && path == "/refunds":
		s.createRefund(w, r)
	case r.Method == http.MethodGet && path == "/refunds":
		s.mu.Lock()
		defer s.mu.Unlock()
		list := []any{}
		for _, f := range slices.Backward(s.refunds) {
			list = append(list, refundJSON(f))
		}
		writeJSON(w, http.StatusOK, map[string]any{"next": nil, "previous": nil, "results": list})
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "tracks":
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, t := range s.transactions {
			if t.TrackingNumber == parts[2] {
				writeJSON(w, http.StatusOK, s.track(t, ""))
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
	case r.Method == http.MethodPost && path == "/tracks":
		var in struct {
			Carrier        string `json:"carrier"`
			TrackingNumber string `json:"tracking_number"`
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.Carrier == "" || in.TrackingNumber == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "carrier and tracking_number are required."})
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, t := range s.transactions {
			if t.TrackingNumber == in.TrackingNumber {
				writeJSON(w, http.StatusOK, s.track(t, ""))
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"carrier": in.Carrier, "tracking_number": in.TrackingNumber,
			"tracking_history": []any{}, "messages": []string{}})
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
	}
}

func (s *Server) createShipment(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AddressFrom map[string]any   `json:"address_from"`
		AddressTo   map[string]any   `json:"address_to"`
		Parcels     []map[string]any `json:"parcels"`
		Extra       map[string]any   `json:"extra"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.AddressFrom == nil || in.AddressTo == nil || len(in.Parcels) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "address_from, address_to and parcels are required."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := &shipment{id: s.id(), extra: in.Extra}
	now := time.Now().UTC()
	var rates []any
	for _, o := range s.opts.Rates {
		rt := rate{id: s.id(), shipment: sh.id, opt: o}
		sh.rates = append(sh.rates, rt)
		s.rates[rt.id] = rt
		rates = append(rates, rateJSON(rt))
	}
	s.shipments[sh.id] = sh
	writeJSON(w, http.StatusCreated, map[string]any{"object_id": sh.id, "object_created": now, "object_updated": now,
		"object_owner": "fake@shippo", "status": "SUCCESS", "address_from": in.AddressFrom, "address_to": in.AddressTo,
		"parcels": in.Parcels, "extra": in.Extra, "rates": rates, "messages": []any{}})
}

func rateJSON(rt rate) map[string]any {
	o := rt.opt
	return map[string]any{"object_id": rt.id, "object_owner": "fake@shippo",
		"amount": o.Amount, "currency": o.Currency, "amount_local": o.Amount, "currency_local": o.Currency,
		"provider": o.Provider, "servicelevel": map[string]any{"name": o.Name, "token": o.Token},
		"carrier_account": "ca_" + strings.ToLower(o.Provider), "shipment": rt.shipment, "estimated_days": 3, "attributes": []string{}}
}

func (s *Server) createTransaction(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Rate          string `json:"rate"`
		LabelFileType string `json:"label_file_type"`
		Metadata      string `json:"metadata"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Rate == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "rate is required."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.rates[in.Rate]
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"rate": []string{"Rate not found."}})
		return
	}
	sh := s.shipments[rt.shipment]
	qrAsked, _ := sh.extra["qr_code_requested"].(bool)
	s.serial++
	t := &Transaction{ID: s.id(), Created: time.Now().UTC(), Rate: rt.id, Shipment: sh.id, Provider: rt.opt.Provider,
		Service: rt.opt.Name, Amount: rt.opt.Amount, Currency: rt.opt.Currency,
		TrackingNumber: fmt.Sprintf("%s%018d", rt.opt.TrackingBase, 700000000000+s.serial), LabelFileType: in.LabelFileType,
		Metadata: in.Metadata, QRCode: qrAsked && rt.opt.QRCode, Status: "SUCCESS", Tracking: "UNKNOWN"}
	var pdf bytes.Buffer
	if err := labelPDF(&pdf, t); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"detail": err.Error()})
		return
	}
	t.pdf = pdf.Bytes()
	s.transactions = append(s.transactions, t)
	writeJSON(w, http.StatusCreated, s.transactionJSON(t))
}

func (s *Server) transactionJSON(t *Transaction) map[string]any {
	out := map[string]any{"object_id": t.ID, "object_created": t.Created, "object_updated": t.Created,
		"object_owner": "fake@shippo", "object_state": "VALID", "status": t.Status, "rate": t.Rate,
		"tracking_number": t.TrackingNumber, "tracking_status": t.Tracking,
		"tracking_url_provider": "https://tools.usps.com/go/TrackConfirmAction?tLabels=" + t.TrackingNumber,
		"label_url":             s.srv.URL + "/files/" + t.ID + ".pdf", "label_file_type": t.LabelFileType,
		"metadata": t.Metadata, "messages": []any{}, "test": true}
	if t.Provider != "USPS" {
		out["tracking_url_provider"] = "https://www.ups.com/track?tracknum=" + t.TrackingNumber
	}
	if t.QRCode {
		out["qr_code_url"] = s.srv.URL + "/files/" + t.ID + ".png"
	}
	return out
}

func (s *Server) listTransactions(w http.ResponseWriter, r *http.Request) {
	pageNo, _ := strconv.Atoi(r.URL.Query().Get("page"))
	results, _ := strconv.Atoi(r.URL.Query().Get("results"))
	if pageNo < 1 {
		pageNo = 1
	}
	if results < 1 || results > 100 {
		results = 25
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []any
	all := slices.Clone(s.transactions)
	slices.Reverse(all)
	from := (pageNo - 1) * results
	for i := from; i < len(all) && i < from+results; i++ {
		list = append(list, s.transactionJSON(all[i]))
	}
	if list == nil {
		list = []any{}
	}
	var next any
	if from+results < len(all) {
		next = fmt.Sprintf("%s/transactions?page=%d&results=%d", s.srv.URL, pageNo+1, results)
	}
	writeJSON(w, http.StatusOK, map[string]any{"next": next, "previous": nil, "results": list})
}

func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Transaction string `json:"transaction"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Transaction == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "transaction is required."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *Transaction
	for _, x := range s.transactions {
		if x.ID == in.Transaction {
			t = x
		}
	}
	if t == nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"transaction": []string{"Transaction not found."}})
		return
	}
	for _, f := range s.refunds {
		if f.Transaction == t.ID {
			writeJSON(w, http.StatusBadRequest, map[string]any{"transaction": []string{"A refund was already requested for this label."}})
			return
		}
	}
	if t.Tracking != "UNKNOWN" && t.Tracking != "PRE_TRANSIT" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"transaction": []string{"The label was used; it cannot be refunded."}})
		return
	}
	f := refund{ID: s.id(), Transaction: t.ID, Status: "SUCCESS", Created: time.Now().UTC()}
	s.refunds = append(s.refunds, f)
	t.Status = "REFUNDED"
	writeJSON(w, http.StatusCreated, refundJSON(f))
}

func refundJSON(f refund) map[string]any {
	return map[string]any{"object_id": f.ID, "object_created": f.Created, "object_updated": f.Created,
		"object_owner": "fake@shippo", "status": f.Status, "transaction": f.Transaction, "test": true}
}

// file serves a purchase's label (PDF, 4x6 inch) or QR code (PNG).
func (s *Server) file(w http.ResponseWriter, r *http.Request, name string) {
	id, ext, _ := strings.Cut(name, ".")
	s.mu.Lock()
	var t *Transaction
	for _, x := range s.transactions {
		if x.ID == id {
			c := *x
			t = &c
		}
	}
	s.mu.Unlock()
	if t == nil || (ext == "png" && !t.QRCode) {
		http.NotFound(w, r)
		return
	}
	var buf bytes.Buffer
	switch ext {
	case "pdf":
		buf.Write(t.pdf)
		w.Header().Set("Content-Type", "application/pdf")
	case "png":
		code, err := qr.Encode(t.TrackingNumber, qr.M, qr.Auto)
		if err == nil {
			code, err = barcode.Scale(code, 300, 300)
		}
		if err == nil {
			err = png.Encode(&buf, code)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "image/png")
	default:
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write(buf.Bytes())
}

// labelPDF draws a plain 4x6 inch label with the carrier, service and tracking
// number: enough for tests to tell one purchase's label from another's.
func labelPDF(w *bytes.Buffer, t *Transaction) error {
	pdf := gofpdf.NewCustom(&gofpdf.InitType{UnitStr: "in", Size: gofpdf.SizeType{Wd: 4, Ht: 6}})
	pdf.SetCreationDate(t.Created)
	pdf.SetModificationDate(t.Created)
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 20)
	pdf.Text(0.3, 0.7, t.Provider+" "+t.Service)
	pdf.SetFont("Helvetica", "", 12)
	pdf.Text(0.3, 1.2, "RETURN LABEL (TEST)")
	pdf.Text(0.3, 1.6, "TRACKING # "+t.TrackingNumber)
	return pdf.Output(w)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
