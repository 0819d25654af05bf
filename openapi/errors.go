package openapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/roundtriphq/roundtrip/email"
	"github.com/roundtriphq/roundtrip/exchanges"
	"github.com/roundtriphq/roundtrip/internal/auth"
	"github.com/roundtriphq/roundtrip/internal/money"
	"github.com/roundtriphq/roundtrip/internal/problem"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/labels"
	"github.com/roundtriphq/roundtrip/merchant"
	"github.com/roundtriphq/roundtrip/notify"
	"github.com/roundtriphq/roundtrip/refunds"
	"github.com/roundtriphq/roundtrip/refunds/reconcile"
	"github.com/roundtriphq/roundtrip/returns"
	"github.com/roundtriphq/roundtrip/returns/receiving"
)

// problemFor is the one mapping from the domains' errors to HTTP problems: handlers
// return their domain's errors as they are, and Huma hands every error that is not
// already a problem to this function (problem.Install). nil means no domain error:
// the answer is a 500 with a generic message, and the error is logged.
func problemFor(err error) *problem.Problem {
	var (
		ve          *validation.Error
		te          *returns.TransitionError
		ne          *returns.NotEligibleError
		voided      *labels.VoidedError
		noLabels    *labels.NoLabelsError
		noParcel    *labels.NoParcelError
		closed      *labels.ClosedError
		preparing   *labels.PreparingError
		badHook     *labels.WebhookBodyError
		unknown     *receiving.UnknownCodeError
		recClosed   *receiving.ClosedError
		notRetry    *refunds.NotRetryableError
		notSettle   *refunds.NotSettleableError
		matchedLine *reconcile.NotMismatchError
		noStock     *returns.OutOfStockError
		short       *refunds.InsufficientCreditError
		currency    *refunds.CurrencyError
		xStatus     *exchanges.StatusError
		released    *exchanges.ReleasedError
		feedback    *returns.FeedbackError
	)
	switch {
	case errors.As(err, &ve):
		return problem.Invalid("", ve.In("body."))

	// not found: another merchant's or order's data answers the same
	case errors.As(err, &unknown):
		return problem.NotFound(fmt.Sprintf("Nothing matches %q: not an RMA number or tracking number of this shop. "+
			"Check the label (an RMA looks like R-7KQ4-M2XD), or set the parcel aside for review.", unknown.Code))
	case errors.As(err, &noParcel):
		return problem.NotFound(fmt.Sprintf("Return %s has no parcel with that number.", noParcel.RMA))
	case errors.Is(err, labels.ErrNoParcel):
		return problem.NotFound("No parcel has that tracking number.")
	case errors.Is(err, returns.ErrNotFound):
		return problem.NotFound("No such order or return.")
	case errors.Is(err, refunds.ErrNotFound):
		return problem.NotFound("No such refund.")
	case errors.Is(err, reconcile.ErrNotFound):
		return problem.NotFound("No such reconciliation.")
	case errors.Is(err, reconcile.ErrLineNotFound):
		return problem.NotFound("This reconciliation has no such line.")
	case errors.Is(err, merchant.ErrNotFound):
		return problem.NotFound("No such merchant.")
	case errors.Is(err, auth.ErrNotFound):
		return problem.NotFound("No API key with that ID.")
	case errors.Is(err, notify.ErrNotFound):
		return problem.NotFound("No such webhook endpoint or delivery.")
	case errors.Is(err, exchanges.ErrNotFound):
		return problem.NotFound("No such exchange.")
	case errors.Is(err, refunds.ErrUnknownCode):
		return problem.NotFound("No store credit has this code: check it with the shopper.")
	case errors.Is(err, refunds.ErrRedemptionNotFound):
		return problem.NotFound("No such redemption.")

	// stock, balances and exchanges
	case errors.As(err, &noStock):
		p := problem.Conflict("out_of_stock", fmt.Sprintf("%s (SKU %s) is out of stock: another exchange holds the last units (%d left). Choose another variant or a refund.",
			noStock.Name, noStock.SKU, noStock.InStock))
		p.Errors = append(p.Errors, &huma.ErrorDetail{Location: "body.items", Message: "out of stock", Value: noStock.SKU})
		return p
	case errors.As(err, &short):
		return problem.Conflict("insufficient_store_credit", fmt.Sprintf("The store credit left is %s, less than asked.",
			money.Format(short.Balance, short.Currency)))
	case errors.Is(err, refunds.ErrCreditExpired):
		return problem.Conflict("store_credit_expired", "This store credit has expired and can no longer be spent.")
	case errors.Is(err, refunds.ErrAlreadyReversed):
		return problem.Conflict("already_reversed", "This redemption was already given back.")
	case errors.As(err, &xStatus):
		p := problem.Conflict("invalid_exchange_status", fmt.Sprintf("The exchange is %s; it cannot %s now.", xStatus.Status, xStatus.Action))
		p.State = string(xStatus.Status)
		return p
	case errors.As(err, &released):
		return problem.Conflict("exchange_released", fmt.Sprintf("The replacement for return %s was already released to the shopper: "+
			"the return can no longer be cancelled; please send the items back.", released.RMA))
	case errors.As(err, &currency):
		return problem.Invalid("", (&validation.Error{Fields: []validation.Field{{Path: "body.currency",
			Message: "this store credit is in " + currency.Want}}}).In(""))
	case errors.Is(err, email.ErrNotFound):
		return problem.NotFound("No such email.")

	// the return's state does not allow it
	case errors.As(err, &te):
		p := problem.Conflict("invalid_transition", transitionMessage(te))
		p.State, p.Event = string(te.From), string(te.Event)
		return p
	case errors.As(err, &recClosed):
		p := problem.Conflict("return_closed", receiptClosedMessage(recClosed))
		p.State = string(recClosed.State)
		return p
	case errors.As(err, &closed):
		p := problem.Conflict("parcels_closed", fmt.Sprintf("The return is %s: parcels can be added only while it waits for them (approved, in transit or partially received).", closed.State))
		p.State = string(closed.State)
		return p
	case errors.As(err, &noLabels):
		var why string
		switch {
		case noLabels.KeepIt:
			why = "nothing needs to be sent back: keep the items"
		case noLabels.State == returns.StateRequested:
			why = "it waits for the shop's review, and the label comes with the approval"
		default:
			why = "it was " + string(noLabels.State) + " before a label was issued"
		}
		p := problem.Conflict("no_label", fmt.Sprintf("Return %s has no label: %s.", noLabels.RMA, why))
		p.State = string(noLabels.State)
		return p
	case errors.As(err, &voided):
		why := "the return ended"
		switch voided.State {
		case returns.StateCancelled:
			why = "the return was cancelled"
		case returns.StateRejected:
			why = "the return was rejected"
		case returns.StateExpired:
			why = "it expired before the parcel was sent"
		}
		p := problem.New(http.StatusGone, "label_voided", fmt.Sprintf("This label was voided: %s. Do not use it.", why))
		p.State = string(voided.State)
		return p
	case errors.As(err, &preparing):
		msg := "The label is being bought from the carrier; it is ready in a moment. Try again shortly."
		if preparing.Parcel.LabelParked {
			msg = "The label could not be bought from the carrier yet; the shop's team has been told."
		}
		return problem.Conflict("label_being_prepared", msg) // Retry-After: PreparingError's own header
	case errors.Is(err, labels.ErrNotParked):
		return problem.Conflict("label_not_parked", "Only a label parked after every retry can be tried again.")
	case errors.As(err, &badHook):
		return problem.New(http.StatusBadRequest, "bad_webhook", "The body is not a Shippo webhook event.")
	case errors.Is(err, labels.ErrNoReturnAddress):
		return problem.Conflict("no_return_address", "The shop has not set the address returns go to, so the label cannot be printed yet. Please contact the shop.")
	case errors.Is(err, labels.ErrTooManyParcels):
		return problem.Conflict("too_many_parcels", fmt.Sprintf("A return has at most %d parcels.", labels.MaxParcels))
	case errors.Is(err, email.ErrNotParked):
		return problem.Conflict("email_not_parked", "Only a parked email (its attempts ran out) can be sent again.")
	case errors.As(err, &feedback):
		p := problem.Conflict("not_completed", fmt.Sprintf("Feedback is asked for once a return is completed; this one is %s.", feedback.State))
		p.State = string(feedback.State)
		return p
	case errors.Is(err, notify.ErrEndpointDisabled):
		return problem.Conflict("endpoint_disabled", "The delivery's endpoint is disabled: enable it (PATCH enabled: true), then retry.")
	case errors.As(err, &notRetry):
		p := problem.Conflict("not_retryable", fmt.Sprintf("Only failed refunds can be retried; this one is %s.", notRetry.Status))
		if notRetry.ClosedAs != "" {
			p = problem.Conflict("not_retryable", fmt.Sprintf("This failed refund was already settled as %s; it cannot be sent again.",
				strings.ReplaceAll(notRetry.ClosedAs, "_", " ")))
		}
		p.State = string(notRetry.Status)
		return p
	case errors.As(err, &matchedLine):
		return problem.Conflict("not_a_mismatch", "This line matched Stripe: there is nothing to acknowledge.")
	case errors.As(err, &notSettle):
		p := problem.Conflict("not_settleable", fmt.Sprintf("Only failed refunds can be settled another way; this one is %s.", notSettle.Status))
		if notSettle.ClosedAs != "" {
			p = problem.Conflict("already_settled", fmt.Sprintf("This failed refund was already settled as %s.",
				strings.ReplaceAll(string(notSettle.ClosedAs), "_", " ")))
		}
		p.State = string(notSettle.Status)
		return p

	// the request cannot be done as asked
	case errors.As(err, &ne):
		p := problem.Unprocessable("not_eligible", "The return cannot be created as asked: see errors, or ask for a quote first.")
		for _, is := range ne.Quote.Issues {
			p.Errors = append(p.Errors, &huma.ErrorDetail{Location: "body." + is.Path, Message: is.Message})
		}
		for i, l := range ne.Quote.Lines {
			if !l.Eligible {
				p.Errors = append(p.Errors, &huma.ErrorDetail{Location: fmt.Sprintf("body.items[%d]", i), Message: l.Message, Value: l.Code})
			}
		}
		return p

	// who is asking
	case errors.Is(err, labels.ErrBadWebhookToken):
		return problem.New(http.StatusUnauthorized, "unauthorized", "The webhook URL's merchant and token do not match: use the URL from POST /v1/carrier-settings/webhook-token.")
	case errors.Is(err, labels.ErrBadSecret):
		p := problem.New(http.StatusUnauthorized, "unauthorized", "Send the merchant's carrier secret in X-Carrier-Secret.")
		p.GetHeaders().Set("WWW-Authenticate", `CarrierSecret realm="roundtrip"`)
		return p
	}
	return nil
}

// transitionMessage says why the return's state refuses the event.
func transitionMessage(te *returns.TransitionError) string {
	switch te.Event {
	case returns.EventApprove:
		return fmt.Sprintf("The return is %s; it cannot be approved now.", te.From)
	case returns.EventReject:
		return fmt.Sprintf("The return is %s; it cannot be rejected now.", te.From)
	case returns.EventCancel:
		return fmt.Sprintf("The return is %s; it cannot be cancelled now.", te.From)
	case returns.EventExpire:
		return fmt.Sprintf("The return is %s; it cannot be expired now.", te.From)
	case returns.EventInspect:
		return fmt.Sprintf("The return is %s; only received items can be inspected.", te.From)
	case returns.EventReceivePartial, returns.EventReceiveAll:
		return fmt.Sprintf("The return is %s; this cannot be recorded now.", te.From)
	}
	return fmt.Sprintf("The return is %s; it cannot be moved by %s now.", te.From, te.Event)
}

// receiptClosedMessage tells the person at the scan station what to do with a parcel
// of a return that takes none.
func receiptClosedMessage(ce *receiving.ClosedError) string {
	switch ce.State {
	case returns.StateRequested:
		return fmt.Sprintf("Return %s has not been approved yet: set the parcel aside until it is.", ce.RMA)
	case returns.StateCompleted:
		return fmt.Sprintf("Return %s is already completed: set the parcel aside for review.", ce.RMA)
	}
	return fmt.Sprintf("Return %s was %s: do not receive this parcel; set it aside for review.", ce.RMA, ce.State)
}
