package email

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	texttemplate "text/template"
)

//go:embed templates
var templateFiles embed.FS

var (
	htmlLayout = htmltemplate.Must(htmltemplate.ParseFS(templateFiles, "templates/message.html"))
	textLayout = texttemplate.Must(texttemplate.New("message.txt").Funcs(texttemplate.FuncMap{
		"inc": func(i int) int { return i + 1 },
	}).ParseFS(templateFiles, "templates/message.txt"))
)

// facts are what a message's words are filled in with.
type facts struct {
	FirstName   string
	Email       string
	Shop        string
	Support     string
	RMA         string
	OrderNumber string
	Items       string // "1 × Black T-shirt, M and 2 × Socks"
	Total       string // what the quote promised, formatted
	Resolution  string // "a refund", "store credit"
	KeepIt      bool
	ValidUntil  string
	Carrier     string
	Tracking    string
	Reason      string
	Trigger     string
	Amount      string
	Bonus       string
	Balance     string
	Code        string // a store credit's code, in the one message that carries it
}

// brand is the shop's look.
type brand struct {
	Shop, Logo, Color, OnColor string
}

// link is a feedback answer.
type link struct {
	Label, URL string
}

// rendered is a message ready for both parts.
type rendered struct {
	Lang             string
	Subject          string
	Preheader        string
	Heading          string
	Greeting         string
	Body             []string
	Steps            []string
	Attachment       string
	FeedbackQuestion string
	Feedback         []link
	StatusIntro      string
	StatusURL        string
	Action           string
	Signoff          string
	Questions        string
	Why              string
	RMALine          string
	Unsubscribe      string
	UnsubscribeURL   string
	brand
}

// parsed holds each catalogue string's template, parsed once: the catalogues are
// fixed, and parsing them for every message was a few percent of a replica's CPU.
var parsed sync.Map // source → *texttemplate.Template

// fill runs one catalogue string on f.
func fill(src string, f any) (string, error) {
	var t *texttemplate.Template
	if v, ok := parsed.Load(src); ok {
		t = v.(*texttemplate.Template)
	} else {
		var err error
		if t, err = texttemplate.New("").Option("missingkey=error").Parse(src); err != nil {
			return "", err
		}
		parsed.Store(src, t)
	}
	var b strings.Builder
	if err := t.Execute(&b, f); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// compose fills kind's words in the catalogue of lang (en, de, fr, es, ja) with f. statusURL opens the return;
// feedbackURL(n) answers n to the feedback question ("" for none); attached says
// whether a label is attached.
func compose(lang string, kind Kind, f facts, b brand, statusURL, unsubscribeURL string, feedbackURL func(int) string, attached bool) (rendered, error) {
	cat, ok := catalogues[lang]
	if !ok {
		return rendered{}, fmt.Errorf("email: no catalogue for %q", lang)
	}
	k, ok := cat.Kinds[kind]
	if !ok {
		return rendered{}, fmt.Errorf("email: no words for %s in %s", kind, lang)
	}
	m := rendered{Lang: lang, StatusURL: statusURL, UnsubscribeURL: unsubscribeURL, brand: b}
	var err error
	one := func(dst *string, src string) {
		if err == nil {
			*dst, err = fill(src, f)
		}
	}
	many := func(srcs []string) []string {
		var out []string
		for _, s := range srcs {
			var v string
			one(&v, s)
			if v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	c := cat.Common
	one(&m.Subject, k.Subject)
	one(&m.Preheader, k.Preheader)
	one(&m.Heading, k.Heading)
	if f.FirstName != "" {
		one(&m.Greeting, c["greeting"])
	} else {
		one(&m.Greeting, c["greeting_nameless"])
	}
	m.Body = many(k.Body)
	if attached {
		m.Steps = many(k.Steps)
		one(&m.Attachment, c["attachment"])
	}
	if feedbackURL != nil {
		one(&m.FeedbackQuestion, c["feedback_question"])
		for i, label := range cat.Ease {
			m.Feedback = append(m.Feedback, link{Label: label, URL: feedbackURL(i + 1)})
		}
	}
	one(&m.StatusIntro, c["status_intro"])
	one(&m.Action, k.Action)
	one(&m.Signoff, c["signoff"])
	one(&m.Questions, c["questions"])
	one(&m.Why, c["why"])
	one(&m.RMALine, c["rma"])
	one(&m.Unsubscribe, c["unsubscribe"])
	return m, err
}

// parts renders m as HTML and as plain text.
func (m rendered) parts() (html, text string, err error) {
	var h, t strings.Builder
	// each written once into room for the largest so far (up to 64 KB, so that one
	// outsized email does not size all the others): a template writes in small
	// pieces, and a buffer grown by doubling copies the text several times
	h.Grow(int(min(htmlSize.Load(), 64<<10)))
	t.Grow(int(min(textSize.Load(), 64<<10)))
	if err := htmlLayout.Execute(&h, m); err != nil {
		return "", "", fmt.Errorf("email: html: %w", err)
	}
	if err := textLayout.Execute(&t, m); err != nil {
		return "", "", fmt.Errorf("email: text: %w", err)
	}
	grown(&htmlSize, h.Len())
	grown(&textSize, t.Len())
	return h.String(), t.String(), nil
}

// htmlSize and textSize are the largest HTML and text parts rendered so far.
var htmlSize, textSize atomic.Int64

func grown(size *atomic.Int64, n int) {
	for {
		old := size.Load()
		if int64(n) <= old || size.CompareAndSwap(old, int64(n)) {
			return
		}
	}
}

// DefaultColor is the header colour of a shop without its own.
const DefaultColor = "#1f6f5c"

// onColor is the text colour readable on the brand colour c (#rrggbb).
func onColor(c string) string {
	if len(c) != 7 || c[0] != '#' {
		return "#ffffff"
	}
	lum := 0.0
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, err := strconv.ParseUint(c[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return "#ffffff"
		}
		x := float64(v) / 255
		if x <= 0.03928 {
			x /= 12.92
		} else {
			x = math.Pow((x+0.055)/1.055, 2.4)
		}
		lum += w * x
	}
	// white when it contrasts better than near-black
	if (1.05)/(lum+0.05) >= (lum+0.05)/(0.05) {
		return "#ffffff"
	}
	return "#111827"
}
