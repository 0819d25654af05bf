package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/returns"
	"github.com/roundtriphq/roundtrip/returns/receiving"
)

// The scan station: one page with a scan field that a keyboard-wedge scanner
// types into, the items the parcel should hold, and a receipt form that needs no
// mouse.

type option struct{ Value, Label string }

var conditions = []option{
	{string(receiving.ConditionNew), "New, unused"},
	{string(receiving.ConditionLikeNew), "Like new"},
	{string(receiving.ConditionUsed), "Used"},
	{string(receiving.ConditionDamaged), "Damaged"},
	{string(receiving.ConditionWrongItem), "Wrong item (not refunded)"},
	{string(receiving.ConditionMissing), "Missing (not refunded)"},
}

var dispositions = []option{
	{string(receiving.DispositionRestock), "Restock"},
	{string(receiving.DispositionResaleHold), "Hold for resale"},
	{string(receiving.DispositionRefurbish), "Refurbish"},
	{string(receiving.DispositionRecycle), "Recycle"},
	{string(receiving.DispositionDispose), "Dispose"},
}

// The defaults: most returned items come back unworn and go back on the shelf.
const (
	defaultCondition   = string(receiving.ConditionLikeNew)
	defaultDisposition = string(receiving.DispositionRestock)
)

// receiveDefaults is what the receipt form suggests for an item returned for a
// reason, and why. An item the shopper says the shop got wrong is never suggested
// "like new → restock": damaged goes in as damaged, to be refurbished; a wrong or
// not-as-described item waits for the person to choose its condition (no default)
// and is held rather than put back on the shelf.
func receiveDefaults(reason returns.ReasonCode) (condition, disposition, hint string) {
	switch reason {
	case returns.ReasonDamaged:
		return string(receiving.ConditionDamaged), string(receiving.DispositionRefurbish),
			"The shopper says it arrived damaged: check it before it goes anywhere near the shelf."
	case returns.ReasonWrongItem:
		return "", string(receiving.DispositionResaleHold),
			"The shopper says the shop sent the wrong item: check what it is and choose its condition."
	case returns.ReasonNotAsDescribed:
		return "", string(receiving.DispositionResaleHold),
			"The shopper says it is not as described: check it and choose its condition."
	}
	return defaultCondition, defaultDisposition, ""
}

// unexpectedRows is how many rows the receipt form offers for items the return
// did not list.
const unexpectedRows = 2

func validOption(opts []option, v string) bool {
	return slices.ContainsFunc(opts, func(o option) bool { return o.Value == v })
}

// scanResult is the feedback of a scan: a kind that picks colour and icon, and
// words.
type scanResult struct {
	Kind    string // ok, repeat, unknown, closed, invalid, received
	Icon    string
	Title   string
	Message string
}

type stationView struct {
	Result   *scanResult
	Return   *returns.Return
	Parcel   int // the parcel shown, when known
	Form     *receiveForm
	Refunds  []refunds.Refund
	Receipts []receiptView
	Timeline []returns.TimelineEntry
	// Photos are the shopper's photos of a merchant-fault return (damaged, wrong
	// item, not as described), shown so the item can be checked against them.
	Photos []photoView
	// Closed: the return takes no more parcels (a repeat scan of a completed return
	// shows what became of it, its timeline open).
	Closed       bool
	Conditions   []option
	Dispositions []option
}

// photoView is one photo the shopper sent with the return.
type photoView struct {
	URL, Alt string
}

// receiptView is a recorded receipt's notes and unexpected items, for staff.
type receiptView struct {
	At    time.Time
	Actor string
	Notes []string
}

// Pending reports whether a refund shown is still under way, so the page keeps
// asking for its status.
func (v *stationView) Pending() bool {
	for _, f := range v.Refunds {
		if !refunds.Terminal(f.Status) {
			return true
		}
	}
	return false
}

type receiveForm struct {
	ReturnID string // the public ID
	RMA      string
	Parcel   int
	// Key is the receipt's idempotency key: the same form sent twice records
	// one receipt. Two stations receiving one return at once are kept apart by
	// the quantities still expected, which Receive checks under the return's lock.
	Key        string
	Items      []receiveItem
	Unexpected []unexpectedRow
	Note       string // about the parcel as a whole
	Errors     []string
}

type receiveItem struct {
	N           int
	LineID      string
	SKU         string
	Name        string
	Reason      returns.ReasonCode
	Hint        string // why the defaults are what they are, for a merchant-fault reason
	Expected    int
	Qty         int
	Condition   string
	Disposition string
	Note        string
}

type unexpectedRow struct {
	N           int
	Description string
	Qty         string
}

// receiveFormFor lists what is still expected of r, with the defaults chosen.
func receiveFormFor(r *returns.Return, parcel int) *receiveForm {
	f := &receiveForm{ReturnID: r.PublicID, RMA: r.RMA, Parcel: parcel, Key: newKey()}
	for _, it := range r.Items {
		if left := it.Quantity - it.Received; left > 0 {
			cond, disp, hint := receiveDefaults(it.Reason)
			f.Items = append(f.Items, receiveItem{N: len(f.Items), LineID: it.LineID, SKU: it.SKU, Name: it.Name, Reason: it.Reason,
				Hint: hint, Expected: left, Qty: left, Condition: cond, Disposition: disp})
		}
	}
	if len(f.Items) == 0 {
		return nil
	}
	for i := range unexpectedRows {
		f.Unexpected = append(f.Unexpected, unexpectedRow{N: i})
	}
	return f
}

func (s *Server) station(rq *request, status int, v *stationView) error {
	v.Conditions, v.Dispositions = conditions, dispositions
	title := "Scan station"
	if v.Return != nil {
		title = "Scan station · " + v.Return.RMA
	}
	return s.render(rq, status, "warehouse", title, v)
}

func (s *Server) stationPage(rq *request) error {
	return s.station(rq, http.StatusOK, &stationView{})
}

// closedWords says why a parcel must not be received.
func closedWords(ce *receiving.ClosedError) string {
	switch ce.State {
	case returns.StateRequested:
		return fmt.Sprintf("Return %s has not been approved yet. Set the parcel aside until it is.", ce.RMA)
	case returns.StateCompleted:
		return fmt.Sprintf("Return %s is already completed. Set the parcel aside for review.", ce.RMA)
	}
	return fmt.Sprintf("Return %s was %s. Do not receive this parcel: set it aside for review.", ce.RMA, strings.ToLower(stateLabel(ce.State)))
}

// stationScan records a parcel's arrival and shows what it should hold.
// Unknown codes answer 404 and codes of returns that cannot receive 409, so the
// feedback differs for people (colour, icon, words) and machines alike.
func (s *Server) stationScan(rq *request) error {
	code := strings.TrimSpace(rq.PostFormValue("code"))
	v := &stationView{}
	if code == "" {
		// Enter on an empty field (the page's script does not even send it): the
		// parcel shown stays, with its form
		if id := rq.PostFormValue("current"); strings.HasPrefix(id, returns.PublicIDPrefix) {
			r, err := s.returns.ByPublicID(rq.ctx(), rq.p.MerchantID, id)
			if err != nil && !errors.Is(err, returns.ErrNotFound) {
				return err
			}
			if err == nil {
				parcel, _ := strconv.Atoi(rq.PostFormValue("current_parcel"))
				return s.stationShow(rq, r, max(parcel, 0), nil)
			}
		}
		v.Result = &scanResult{Kind: "invalid", Icon: "!", Title: "Nothing scanned", Message: "Scan a parcel's barcode, or type its RMA or tracking number and press Enter."}
		return s.station(rq, http.StatusUnprocessableEntity, v)
	}
	sc, err := s.scan(rq, code)
	var ce *receiving.ClosedError
	switch {
	case errors.Is(err, receiving.ErrUnknownCode), errors.Is(err, returns.ErrNotFound):
		v.Result = &scanResult{Kind: "unknown", Icon: "✕", Title: "Unknown code",
			Message: fmt.Sprintf("Nothing matches %q: it is not an RMA or tracking number of this shop. Check the label (an RMA looks like R-7KQ4-M2XD), or set the parcel aside for review.", code)}
		return s.station(rq, http.StatusNotFound, v)
	case errors.As(err, &ce):
		v.Result = &scanResult{Kind: "closed", Icon: "⚠", Title: "Do not receive", Message: closedWords(ce)}
		if rma, ok := returns.ParseRMA(ce.RMA); ok {
			if r, err := s.returns.ByRMA(rq.ctx(), rq.p.MerchantID, rma); err == nil {
				// what became of it: its refunds, receipts and timeline
				v.Return, v.Closed = r, true
				if err := s.stationExtras(rq, v); err != nil {
					return err
				}
			}
		}
		return s.station(rq, http.StatusConflict, v)
	case err != nil:
		return err
	}
	v.Return = sc.Return
	if sc.Parcel != nil {
		v.Parcel = sc.Parcel.Number
	}
	v.Form = receiveFormFor(sc.Return, v.Parcel)
	if sc.Repeat {
		v.Result = &scanResult{Kind: "repeat", Icon: "↻", Title: "Already scanned", Message: sc.Message}
	} else {
		v.Result = &scanResult{Kind: "ok", Icon: "✓", Title: "Parcel found", Message: sc.Message}
	}
	if err := s.stationExtras(rq, v); err != nil {
		return err
	}
	return s.station(rq, http.StatusOK, v)
}

func (s *Server) scan(rq *request, code string) (*receiving.Scan, error) {
	if len(code) > 100 {
		return nil, receiving.ErrUnknownCode
	}
	return s.receiving.Scan(rq.ctx(), rq.p.MerchantID, code)
}

// stationExtras adds the refunds, the recorded receipts' notes, the shopper's
// photos and the timeline of the return shown.
func (s *Server) stationExtras(rq *request, v *stationView) error {
	if v.Return == nil {
		return nil
	}
	ctx, mid := rq.ctx(), rq.p.MerchantID
	list, _, err := refunds.List(ctx, s.db, mid, refunds.ListFilter{ReturnID: v.Return.PublicID})
	if err != nil {
		return err
	}
	v.Refunds = list
	recs, err := receiving.Receipts(ctx, s.db, mid, v.Return.ID)
	if err != nil {
		return err
	}
	for _, rc := range recs {
		if rv := viewReceipt(v.Return, rc); len(rv.Notes) > 0 {
			v.Receipts = append(v.Receipts, rv)
		}
	}
	if v.Photos, err = s.returnPhotos(rq, v.Return); err != nil {
		return err
	}
	ev, err := s.returns.Events(ctx, mid, v.Return.ID)
	if err != nil {
		return err
	}
	slices.Reverse(ev)
	v.Timeline = ev
	return nil
}

// returnPhotos lists the shopper's photos of a return (the portal asks for them
// with merchant-fault reasons), served to signed-in staff, for the scan station.
func (s *Server) returnPhotos(rq *request, r *returns.Return) ([]photoView, error) {
	photos, err := s.returns.Photos(rq.ctx(), r.MerchantID, r.ID)
	if err != nil {
		return nil, err
	}
	out := make([]photoView, 0, len(photos))
	for i, p := range photos {
		name := p.LineID
		for _, it := range r.Items {
			if it.LineID == p.LineID {
				name = it.Name
			}
		}
		out = append(out, photoView{URL: photoURL(r.PublicID, p.PublicID), Alt: fmt.Sprintf("Shopper's photo %d of %s", i+1, name)})
	}
	return out, nil
}

// viewReceipt words a receipt's notes and unexpected items for staff.
func viewReceipt(r *returns.Return, rc receiving.RecordedReceipt) receiptView {
	rv := receiptView{At: rc.At, Actor: rc.Actor}
	name := func(line string) string {
		for _, it := range r.Items {
			if it.LineID == line {
				return it.Name
			}
		}
		return line
	}
	for _, l := range rc.Input.Items {
		if n := strings.TrimSpace(l.Note); n != "" {
			rv.Notes = append(rv.Notes, name(l.LineID)+": "+n)
		}
	}
	for _, u := range rc.Input.Unexpected {
		n := fmt.Sprintf("Unexpected: %d × %s", u.Quantity, u.Description)
		if u.Note != "" {
			n += " (" + u.Note + ")"
		}
		rv.Notes = append(rv.Notes, n)
	}
	if n := strings.TrimSpace(rc.Input.Note); n != "" {
		what := "Parcel"
		if rc.Parcel > 0 {
			what = fmt.Sprintf("Parcel %d", rc.Parcel)
		}
		rv.Notes = append(rv.Notes, what+": "+n)
	}
	return rv
}

// stationShow shows a return at the scan station with what is still expected of
// it (a form when something is), its refunds and timeline.
func (s *Server) stationShow(rq *request, r *returns.Return, parcel int, result *scanResult) error {
	v := &stationView{Return: r, Parcel: parcel, Result: result, Closed: closedState(r.State)}
	if !v.Closed {
		v.Form = receiveFormFor(r, parcel)
	}
	if err := s.stationExtras(rq, v); err != nil {
		return err
	}
	return s.station(rq, http.StatusOK, v)
}

// stationReturn shows a return at the scan station: after a receipt, with the
// refund it triggered.
func (s *Server) stationReturn(rq *request) error {
	r, err := s.stationLoad(rq)
	if err != nil {
		return err
	}
	v := &stationView{Return: r, Closed: closedState(r.State)}
	if !v.Closed {
		v.Form = receiveFormFor(r, 0)
	}
	if err := s.stationExtras(rq, v); err != nil {
		return err
	}
	if rq.URL.Query().Has("receipt") {
		msg := "The receipt was recorded."
		for _, e := range v.Timeline {
			if e.Event == string(returns.EventReceiveAll) || e.Event == string(returns.EventReceivePartial) {
				msg = e.Note
				break
			}
		}
		if len(v.Refunds) > 0 {
			f := v.Refunds[0]
			msg += fmt.Sprintf(" Refund of %s %s.", money.Format(f.Amount, f.Currency), refundWords(f.Status))
		}
		v.Result = &scanResult{Kind: "received", Icon: "✓", Title: "Received", Message: msg}
	}
	return s.station(rq, http.StatusOK, v)
}

func closedState(st returns.State) bool {
	switch st {
	case returns.StateCancelled, returns.StateRejected, returns.StateExpired, returns.StateRequested, returns.StateCompleted:
		return true
	}
	return false
}

func (s *Server) stationLoad(rq *request) (*returns.Return, error) {
	notFound := &pageError{Status: http.StatusNotFound, Title: "No such return", Message: "This shop has no return with that number.",
		Link: "/warehouse", LinkText: "Back to scanning"}
	r, err := s.returns.ByPublicID(rq.ctx(), rq.p.MerchantID, rq.PathValue("id"))
	if errors.Is(err, returns.ErrNotFound) {
		return nil, notFound
	}
	return r, err
}

// stationReceive records what arrived and shows the refund it triggered.
// Receive is the authority on quantities: it checks the form's idempotency key
// first (the same form sent twice records one receipt) and then, under the
// return's lock, that no more arrives than is still expected.
func (s *Server) stationReceive(rq *request) error {
	r, err := s.stationLoad(rq)
	if err != nil {
		return err
	}
	back := "/warehouse/returns/" + r.PublicID
	key := rq.PostFormValue("key")
	if !keyRE.MatchString(key) {
		return &pageError{Status: http.StatusBadRequest, Title: "Scan again", Message: "The form was incomplete, so nothing was recorded.", Link: back, LinkText: "Open return " + r.RMA}
	}
	parcel, _ := strconv.Atoi(rq.PostFormValue("parcel"))
	n, _ := strconv.Atoi(rq.PostFormValue("n"))
	in := receiving.ReceiptInput{Parcel: max(parcel, 0)}
	posted := map[string]receiveItem{}
	var problems []string
	units := 0
	for i := range min(max(n, 0), returns.MaxOrderLines) {
		p := strconv.Itoa(i)
		it := receiveItem{LineID: rq.PostFormValue("line." + p), Condition: rq.PostFormValue("cond." + p), Disposition: rq.PostFormValue("disp." + p),
			Note: strings.TrimSpace(rq.PostFormValue("note." + p))}
		qty, err := strconv.Atoi(strings.TrimSpace(rq.PostFormValue("qty." + p)))
		name := it.LineID
		for _, x := range r.Items {
			if x.LineID == it.LineID {
				name = x.Name
			}
		}
		switch {
		case err != nil || qty < 0:
			problems = append(problems, name+": enter how many arrived (0 or more).")
		case !validOption(conditions, it.Condition):
			problems = append(problems, name+": choose a condition.")
		case !validOption(dispositions, it.Disposition):
			problems = append(problems, name+": choose what happens to it.")
		case len([]rune(it.Note)) > 1000:
			problems = append(problems, name+": the note is too long (1000 characters at most).")
		}
		it.Qty = max(qty, 0)
		posted[it.LineID] = it
		units += it.Qty
		in.Items = append(in.Items, receiving.ReceivedLine{LineID: it.LineID, Quantity: it.Qty,
			Condition: receiving.Condition(it.Condition), Disposition: receiving.Disposition(it.Disposition), Note: it.Note})
	}
	var extra []unexpectedRow
	for i := range unexpectedRows {
		p := strconv.Itoa(i)
		u := unexpectedRow{N: i, Description: strings.TrimSpace(rq.PostFormValue("ux.desc." + p)), Qty: strings.TrimSpace(rq.PostFormValue("ux.qty." + p))}
		extra = append(extra, u)
		if u.Description == "" && (u.Qty == "" || u.Qty == "1") {
			continue
		}
		qty, err := strconv.Atoi(u.Qty)
		if u.Qty == "" {
			qty, err = 1, nil
		}
		switch {
		case u.Description == "":
			problems = append(problems, fmt.Sprintf("Unexpected item %d: say what it is.", i+1))
		case len([]rune(u.Description)) > 500:
			problems = append(problems, fmt.Sprintf("Unexpected item %d: describe it in 500 characters at most.", i+1))
		case err != nil || qty < 1 || qty > 1000:
			problems = append(problems, fmt.Sprintf("Unexpected item %d: enter how many (1 to 1000).", i+1))
		default:
			in.Unexpected = append(in.Unexpected, receiving.Unexpected{Description: u.Description, Quantity: qty})
		}
	}
	in.Note = strings.TrimSpace(rq.PostFormValue("pnote"))
	if len([]rune(in.Note)) > 1000 {
		problems = append(problems, "The parcel's note is too long (1000 characters at most).")
	}
	if len(problems) == 0 && units == 0 && len(in.Unexpected) == 0 && in.Note == "" {
		problems = append(problems, "Enter how many of each item arrived. Record items that are not in the parcel as “Missing”.")
	}
	v := &stationView{Return: r}
	if len(problems) == 0 {
		rc, err := s.receiving.Receive(rq.ctx(), rq.p.MerchantID, r.ID, in, rq.p.Actor, "web:"+key)
		var ve *validation.Error
		var ce *receiving.ClosedError
		var te *returns.TransitionError
		switch {
		case err == nil:
			return redirectTo(back + "?receipt=" + url.QueryEscape(rc.ID))
		case errors.As(err, &ve):
			for _, fe := range ve.Fields {
				problems = append(problems, fe.Message)
			}
		case errors.As(err, &ce):
			v.Result = &scanResult{Kind: "closed", Icon: "⚠", Title: "Do not receive", Message: closedWords(ce)}
			return s.station(rq, http.StatusConflict, v)
		case errors.As(err, &te):
			v.Result = &scanResult{Kind: "closed", Icon: "⚠", Title: "Cannot record now",
				Message: fmt.Sprintf("Return %s is %s; a receipt cannot be recorded now.", r.RMA, strings.ToLower(stateLabel(te.From)))}
			return s.station(rq, http.StatusConflict, v)
		default:
			return err
		}
	}
	// show the form again with what was entered, against what is expected now
	v.Form = receiveFormFor(r, in.Parcel)
	if v.Form == nil {
		v.Result = &scanResult{Kind: "closed", Icon: "⚠", Title: "Nothing expected", Message: "Every item of " + r.RMA + " was already received."}
		return s.station(rq, http.StatusConflict, v)
	}
	v.Form.Key = key
	for i := range v.Form.Items {
		it := &v.Form.Items[i]
		if p, ok := posted[it.LineID]; ok {
			it.Qty, it.Condition, it.Disposition, it.Note = p.Qty, p.Condition, p.Disposition, p.Note
		}
	}
	v.Form.Unexpected, v.Form.Note = extra, in.Note
	v.Form.Errors = problems
	return s.station(rq, http.StatusUnprocessableEntity, v)
}

// refundWords says where a refund stands, for staff.
func refundWords(status refunds.Status) string {
	switch status {
	case refunds.StatusQueued:
		return "queued: it goes to Stripe in a moment"
	case refunds.StatusPending:
		return "pending at Stripe"
	case refunds.StatusRequiresAction:
		return "waiting for the shopper's bank"
	case refunds.StatusSucceeded:
		return "succeeded"
	case refunds.StatusFailed:
		return "failed: finance can retry it"
	case refunds.StatusCanceled:
		return "canceled"
	}
	return string(status)
}
