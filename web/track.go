package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/roundtriphq/roundtrip/email"
	"github.com/roundtriphq/roundtrip/internal/validation"
	"github.com/roundtriphq/roundtrip/returns"
)

// The pages a link in an email opens, without signing in: the return's status page
// (with its label and the feedback question) and unsubscribing. A link opens one
// return only, does not expire, and stops working when staff revoke it; the
// unsubscribe page works with a revoked link too.

var errLinkGone = &pageError{Status: http.StatusNotFound, Title: "This link does not work any more",
	Message: "The link may have been replaced by a newer email, or the shop switched it off. You can still find your return with your order number and email address."}

// trackPath is the status page a link token opens.
func trackPath(slug, token string) string { return email.TrackPath(slug, token) }

// linkedReturn is the return of the {token} link in the path.
func (s *Server) linkedReturn(rq *request, allowRevoked bool) (*returns.Return, email.Link, error) {
	if s.cfg.Emails == nil {
		return nil, email.Link{}, errLinkGone
	}
	l, err := s.cfg.Emails.OpenLink(rq.ctx(), rq.merchant.ID, rq.PathValue("token"))
	if errors.Is(err, email.ErrNoLink) || (err == nil && l.Revoked() && !allowRevoked) {
		return nil, l, errLinkGone
	}
	if err != nil {
		return nil, l, err
	}
	r, err := s.returns.Get(rq.ctx(), rq.merchant.ID, l.ReturnID)
	if errors.Is(err, returns.ErrNotFound) {
		return nil, l, errLinkGone
	}
	return r, l, err
}

func (s *Server) trackStatus(rq *request) error {
	r, _, err := s.linkedReturn(rq, false)
	if err != nil {
		return err
	}
	v, err := s.statusData(rq, r)
	if err != nil {
		return err
	}
	track := trackPath(rq.merchant.Slug, rq.PathValue("token"))
	// the label and feedback links stay under the link; cancelling needs signing in
	session := portalPath(rq.merchant.Slug) + "/returns/" + r.RMA
	for i := range v.Labels {
		v.Labels[i].Page = strings.Replace(v.Labels[i].Page, session, track, 1)
		v.Labels[i].Thermal = strings.Replace(v.Labels[i].Thermal, session, track, 1)
	}
	if v.FeedbackURL != "" {
		v.FeedbackURL = track + "/feedback"
	}
	v.CanCancel, v.Linked = false, true
	v.StatusURL = s.origin(rq.Request) + track
	if v.QR, err = qrSVG(v.StatusURL, "QR code: the address of this return's status page"); err != nil {
		return err
	}
	return s.render(rq, http.StatusOK, "portal_status", "Return "+r.RMA, v)
}

func (s *Server) trackLabel(rq *request) error {
	r, _, err := s.linkedReturn(rq, false)
	if err != nil {
		return err
	}
	return s.serveLabel(rq, r, trackPath(rq.merchant.Slug, rq.PathValue("token")))
}

type unsubscribeView struct {
	Email  string
	Done   bool
	Action string
}

// trackUnsubscribe asks before unsubscribing (GET), and unsubscribes on POST: the
// form's button, or a mail app's one-click List-Unsubscribe-Post.
func (s *Server) trackUnsubscribe(rq *request) error {
	_, l, err := s.linkedReturn(rq, true)
	if err != nil {
		return err
	}
	v := unsubscribeView{Email: l.Email, Action: trackPath(rq.merchant.Slug, rq.PathValue("token")) + "/unsubscribe"}
	if rq.Method == http.MethodPost {
		if err := s.cfg.Emails.Unsubscribe(rq.ctx(), rq.merchant.ID, l.Email); err != nil {
			return err
		}
		v.Done = true
	}
	return s.render(rq, http.StatusOK, "portal_unsubscribe", s.langOf(rq).T("un-title"), v)
}

type feedbackView struct {
	R       *returns.Return
	Ease    int
	Comment string
	Saved   bool
	Error   string
	Action  string
	Back    string
	Scale   []feedbackChoice
}

type feedbackChoice struct {
	Value   int
	Label   string
	Checked bool
}

// trackFeedback and portalFeedback show the feedback question of a completed return
// with the answer the email's link chose (?ease=N) or the one given before, and
// store the answer on POST; a second answer replaces the first.
func (s *Server) trackFeedback(rq *request) error {
	r, _, err := s.linkedReturn(rq, false)
	if err != nil {
		return err
	}
	track := trackPath(rq.merchant.Slug, rq.PathValue("token"))
	return s.feedback(rq, r, track+"/feedback", track)
}

func (s *Server) portalFeedback(rq *request) error {
	r, err := s.shopperReturn(rq)
	if err != nil {
		return err
	}
	back := portalPath(rq.merchant.Slug) + "/returns/" + r.RMA
	return s.feedback(rq, r, back+"/feedback", back)
}

func (s *Server) feedback(rq *request, r *returns.Return, action, back string) error {
	l := s.langOf(rq)
	if r.State != returns.StateCompleted {
		return &pageError{Status: http.StatusConflict, Title: l.T("fb-not-yet-h"),
			Message: l.T("fb-not-yet"), Link: back, LinkText: l.T("fb-back")}
	}
	v := feedbackView{R: r, Action: action, Back: back}
	if r.Feedback != nil {
		v.Ease, v.Comment = r.Feedback.Ease, r.Feedback.Comment
	}
	status := http.StatusOK
	switch rq.Method {
	case http.MethodGet:
		if n, err := strconv.Atoi(rq.URL.Query().Get("ease")); err == nil && n >= 1 && n <= 5 {
			v.Ease = n
		}
	case http.MethodPost:
		n, _ := strconv.Atoi(rq.PostFormValue("ease"))
		v.Ease, v.Comment = n, rq.PostFormValue("comment")
		f, err := s.returns.SetFeedback(rq.ctx(), rq.merchant.ID, r.ID, n, v.Comment)
		var ve *validation.Error
		switch {
		case err == nil:
			v.Saved, v.Ease, v.Comment = true, f.Ease, f.Comment
		case errors.As(err, &ve):
			status = http.StatusUnprocessableEntity
			v.Error = l.T("fb-error")
		default:
			return err
		}
	}
	for i := 1; i <= 5; i++ {
		v.Scale = append(v.Scale, feedbackChoice{Value: i, Label: l.T("fb-ease-" + strconv.Itoa(i)), Checked: v.Ease == i})
	}
	return s.render(rq, status, "portal_feedback", l.T("fb-title"), v)
}
