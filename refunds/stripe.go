package refunds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/internal/keepalive"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"github.com/stripe/stripe-go/v76/form"
)

// StripeConfig configures NewStripe.
type StripeConfig struct {
	// SecretKey is the Stripe secret key (sk_live_…, sk_test_…).
	SecretKey string
	// APIBase is the API's base URL (STRIPE_API_BASE); empty means Stripe's.
	// Tests point it at fakestripe or stripe-mock.
	APIBase string
	// Mock says APIBase is stripe-mock (STRIPE_MOCK), which answers every refund in
	// USD whatever was asked. The currency check then takes the requested currency
	// instead of reporting a mismatch that only the mock made.
	Mock bool
	// HTTPClient sends the requests; nil means one on the shared keep-alive
	// transport (internal/keepalive) with stripe-go's 80 s timeout.
	HTTPClient *http.Client
	// MaxNetworkRetries is how often stripe-go retries one request, reusing its
	// Idempotency-Key: on network errors, 409, 503, lock_timeout 429 and when
	// Stripe says Stripe-Should-Retry; never a 500 on a POST. 0 means none.
	MaxNetworkRetries int64
	// Timeout bounds each HTTP request to Stripe with its retries (each page of
	// a list separately); 0 means only the caller's context bounds it.
	Timeout time.Duration
	// PageSize is how many refunds List and ListByCharge fetch per request,
	// 1 to 100; 0 means 100.
	PageSize int64
}

// Stripe is the Gateway to Stripe through stripe-go v76 (API version
// 2023-10-16). It keeps no state of its own and is safe for concurrent use.
type Stripe struct {
	api      *client.API
	pageSize int64
	mock     bool // talking to stripe-mock: see StripeConfig.Mock
}

var _ Gateway = (*Stripe)(nil)

// NewStripe returns a Gateway that talks to Stripe with its own backend: it never
// reads or sets stripe-go's global key or backends, and stripe-go's own logging is
// off (errors come back to the caller instead).
func NewStripe(cfg StripeConfig) *Stripe {
	retries := cfg.MaxNetworkRetries
	if cfg.HTTPClient == nil {
		// stripe-go's own client keeps two idle connections: every refund sent
		// beyond two at once would pay a new TLS handshake
		cfg.HTTPClient = keepalive.Client(80 * time.Second)
	}
	bc := &stripe.BackendConfig{
		MaxNetworkRetries: &retries,
		HTTPClient:        cfg.HTTPClient,
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if cfg.APIBase != "" {
		bc.URL = stripe.String(cfg.APIBase)
	}
	var backend stripe.Backend = stripe.GetBackendWithConfig(stripe.APIBackend, bc)
	if cfg.Timeout > 0 {
		backend = timeoutBackend{Backend: backend, timeout: cfg.Timeout}
	}
	pageSize := cfg.PageSize
	if pageSize <= 0 || pageSize > 100 {
		pageSize = 100
	}
	return &Stripe{
		api:      client.New(cfg.SecretKey, &stripe.Backends{API: backend}),
		pageSize: pageSize,
		mock:     cfg.Mock,
	}
}

// Refund creates the refund req describes with the Idempotency-Key
// IdempotencyKey(req.RefundID, req.Attempt) and req.PublicID as the refund_id
// metadata. A Request without a positive RefundID or Amount, without a PublicID,
// with a negative Attempt, or without a payment intent or charge is refused before
// anything is sent (the error is not Temporary). When Stripe refunded in another currency than
// req.Currency, the Result comes back with an error wrapping
// ErrCurrencyMismatch.
func (s *Stripe) Refund(ctx context.Context, req Request) (Result, error) {
	switch {
	case req.RefundID <= 0:
		return Result{}, fmt.Errorf("refunds: refund %d: the refund ID must be positive", req.RefundID)
	case req.PublicID == "":
		return Result{}, fmt.Errorf("refunds: refund %d: no public ID to name it by in Stripe", req.RefundID)
	case req.Attempt < 0:
		return Result{}, fmt.Errorf("refunds: refund %d: attempt %d is negative", req.RefundID, req.Attempt)
	case req.Amount <= 0:
		return Result{}, fmt.Errorf("refunds: refund %d: amount %d is not positive", req.RefundID, req.Amount)
	case req.PaymentIntentID == "" && req.ChargeID == "":
		return Result{}, fmt.Errorf("refunds: refund %d: no payment intent or charge to refund", req.RefundID)
	}
	params := &stripe.RefundParams{Amount: stripe.Int64(req.Amount)}
	params.Context = ctx
	params.SetIdempotencyKey(IdempotencyKey(req.RefundID, req.Attempt))
	if req.PaymentIntentID != "" {
		params.PaymentIntent = stripe.String(req.PaymentIntentID)
	} else {
		params.Charge = stripe.String(req.ChargeID)
	}
	for k, v := range req.Metadata {
		params.AddMetadata(k, v)
	}
	params.AddMetadata("refund_id", req.PublicID)
	if req.Reason != "" {
		params.Reason = stripe.String(req.Reason)
	}

	r, err := s.api.Refunds.New(params)
	if err != nil {
		return Result{}, stripeError(err)
	}
	res := resultOf(r)
	if s.mock && req.Currency != "" {
		res.Currency = strings.ToLower(req.Currency)
	}
	if req.Currency != "" && !strings.EqualFold(res.Currency, req.Currency) {
		return res, fmt.Errorf("%w: refund %d asked for %d %s, Stripe refund %s is %d %s",
			ErrCurrencyMismatch, req.RefundID, req.Amount, req.Currency, res.StripeID, res.Amount, res.Currency)
	}
	return res, nil
}

// Get returns the refund stripeID with its balance transaction.
func (s *Stripe) Get(ctx context.Context, stripeID string) (Result, error) {
	if stripeID == "" {
		return Result{}, errors.New("refunds: get: empty Stripe refund ID")
	}
	params := &stripe.RefundParams{}
	params.Context = ctx
	params.AddExpand("balance_transaction")
	r, err := s.api.Refunds.Get(stripeID, params)
	if err != nil {
		return Result{}, stripeError(err)
	}
	return resultOf(r), nil
}

// List calls fn for every refund created in [from, to), newest first. Stripe
// keeps whole seconds: both bounds are rounded up to the next whole second, so
// that consecutive windows [a, b), [b, c) never share or miss a refund.
func (s *Stripe) List(ctx context.Context, from, to time.Time, fn func(Result) error) error {
	params := s.listParams(ctx)
	if !from.IsZero() || !to.IsZero() {
		params.CreatedRange = &stripe.RangeQueryParams{}
		if !from.IsZero() {
			params.CreatedRange.GreaterThanOrEqual = ceilUnix(from)
		}
		if !to.IsZero() {
			params.CreatedRange.LesserThan = ceilUnix(to)
		}
	}
	return s.each(params, fn)
}

// ListByCharge returns every refund of chargeID, newest first.
func (s *Stripe) ListByCharge(ctx context.Context, chargeID string) ([]Result, error) {
	if chargeID == "" {
		return nil, errors.New("refunds: list by charge: empty charge ID")
	}
	params := s.listParams(ctx)
	params.Charge = stripe.String(chargeID)
	var out []Result
	err := s.each(params, func(r Result) error {
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Stripe) listParams(ctx context.Context) *stripe.RefundListParams {
	params := &stripe.RefundListParams{}
	params.Context = ctx
	params.Limit = stripe.Int64(s.pageSize)
	params.AddExpand("data.balance_transaction")
	return params
}

// each runs fn over every refund that params lists, page after page.
func (s *Stripe) each(params *stripe.RefundListParams, fn func(Result) error) error {
	it := s.api.Refunds.List(params)
	for it.Next() {
		if err := fn(resultOf(it.Refund())); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return stripeError(err)
	}
	return nil
}

func resultOf(r *stripe.Refund) Result {
	res := Result{
		StripeID:      r.ID,
		Status:        Status(r.Status),
		FailureReason: string(r.FailureReason),
		Amount:        r.Amount,
		Currency:      string(r.Currency),
		Metadata:      r.Metadata,
	}
	if r.Created != 0 {
		res.Created = time.Unix(r.Created, 0).UTC()
	}
	if r.Charge != nil {
		res.ChargeID = r.Charge.ID
	}
	if r.PaymentIntent != nil {
		res.PaymentIntentID = r.PaymentIntent.ID
	}
	if r.BalanceTransaction != nil {
		res.BalanceTransaction = r.BalanceTransaction.ID
	}
	if r.FailureBalanceTransaction != nil {
		res.FailureBalanceTransaction = r.FailureBalanceTransaction.ID
	}
	return res
}

// ceilUnix is t in Unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// stripeError classifies an error from stripe-go as an *Error:
//
//	Stripe answered 409, 429 or 5xx, or code lock_timeout     Temporary
//	Stripe answered 401 or 403 (key revoked or lacking rights)  Temporary: fixed by configuration, then the retry succeeds
//	Stripe answered anything else (400, 402, 404; card_error,
//	  invalid_request_error, idempotency_error)                 Permanent
//	no answer: timeout, cancelled context, network error, a
//	  lost or unreadable answer                                Temporary: the refund may exist; the same key finds it
func stripeError(err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		e := &Error{
			Kind:        Permanent,
			Code:        string(se.Code),
			Message:     se.Msg,
			DeclineCode: string(se.DeclineCode),
			Type:        string(se.Type),
			HTTPStatus:  se.HTTPStatusCode,
			RequestID:   se.RequestID,
			Err:         err,
		}
		if e.Message == "" {
			e.Message = "Stripe answered " + http.StatusText(se.HTTPStatusCode)
		}
		switch status := se.HTTPStatusCode; {
		case se.Code == stripe.ErrorCodeLockTimeout,
			se.Code == stripe.ErrorCodeIdempotencyKeyInUse,
			status == http.StatusConflict,
			status == http.StatusTooManyRequests,
			status >= 500,
			status == http.StatusUnauthorized,
			status == http.StatusForbidden,
			status == 0: // no status: not an answer of the API
			e.Kind = Temporary
		}
		return e
	}

	e := &Error{Kind: Temporary, Err: err}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Message = "Stripe did not answer in time; the refund may have been made and a retry will find it."
	case errors.Is(err, context.Canceled):
		e.Message = "The request to Stripe was cancelled; the refund may have been made and a retry will find it."
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		e.Message = "Stripe could not be reached or its answer was lost; the refund may have been made and a retry will find it."
	default:
		e.Message = "Stripe's answer could not be read; the refund may have been made and a retry will find it."
	}
	return e
}

// timeoutBackend bounds every request of the wrapped backend by timeout, one
// request (with stripe-go's retries) at a time, so that each page of a long list
// gets the whole timeout.
type timeoutBackend struct {
	stripe.Backend
	timeout time.Duration
}

func (b timeoutBackend) Call(method, path, key string, params stripe.ParamsContainer, v stripe.LastResponseSetter) error {
	if params != nil {
		defer b.bound(params.GetParams())()
	}
	return b.Backend.Call(method, path, key, params, v)
}

func (b timeoutBackend) CallRaw(method, path, key string, body *form.Values, params *stripe.Params, v stripe.LastResponseSetter) error {
	defer b.bound(params)()
	return b.Backend.CallRaw(method, path, key, body, params, v)
}

// bound gives p a context that ends after the timeout and returns the function
// that puts the caller's context back.
func (b timeoutBackend) bound(p *stripe.Params) func() {
	if p == nil {
		return func() {}
	}
	parent := p.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, b.timeout)
	orig := p.Context
	p.Context = ctx
	return func() {
		cancel()
		p.Context = orig
	}
}
