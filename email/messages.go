package email

// catalogue holds every word of the emails in one language. Each string is a
// text/template run on the message's facts (facts); whole sentences, so that a
// translation can put the words in its own order. The layout (templates/) holds no
// words of its own.
type catalogue struct {
	// Common are the parts every message shares, by key.
	Common map[string]string
	// Kinds are the messages.
	Kinds map[Kind]kindText
	// Ease names the answers of the feedback question, from 1 to 5.
	Ease [5]string
}

// kindText is one message.
type kindText struct {
	// Label names the message on the return's timeline ("Email sent: refund sent").
	Label   string
	Subject string
	// Preheader is the line mail apps show after the subject.
	Preheader string
	Heading   string
	// Body is the message's paragraphs, after the greeting.
	Body []string
	// Steps, when set, are numbered (how to hand in the parcel).
	Steps []string
	// Action is the text of the button to the status page.
	Action string
}

// English is the catalogue the emails are written in; the other languages
// (messages_*.go) have the same keys and kinds, and the timeline labels stay English
// (staff read them).
var English = catalogue{
	Common: map[string]string{
		"greeting":          "Hi {{.FirstName}},",
		"greeting_nameless": "Hello,",
		"status_intro":      "You can follow your return at any time, without signing in:",
		"signoff":           "Thank you, the {{.Shop}} team",
		"questions":         "Questions? Reply to this email{{if .Support}} or write to {{.Support}}{{end}}.",
		"why":               "You receive this email because you are returning items of order {{.OrderNumber}} from {{.Shop}}.",
		"unsubscribe":       "Stop status emails about returns (you will still hear about your money)",
		"attachment":        "Your label is attached as a PDF.",
		"feedback_question": "How easy was your return? One click is enough:",
		"rma":               "Return {{.RMA}}",
		// the words .Resolution takes, by the return's resolution
		"resolution_refund":       "refund",
		"resolution_store_credit": "store credit",
		"resolution_exchange":     "exchange",
		// joins the items of a return: "1 × Black T-shirt, M; 2 × Socks"
		"item":      "{{.Quantity}} × {{.Name}}",
		"item_join": "; ",
	},
	Ease: [5]string{"1 · very hard", "2 · hard", "3 · so-so", "4 · easy", "5 · very easy"},
	Kinds: map[Kind]kindText{
		KindReviewNeeded: {
			Label:     "review needed",
			Subject:   "We received your return request {{.RMA}}",
			Preheader: "{{.Shop}} looks at it and tells you soon.",
			Heading:   "Your return request is with {{.Shop}}",
			Body: []string{
				"Thank you for your return request {{.RMA}} for {{.Items}}.",
				"{{.Shop}} reviews requests like this one before sending a label. We will email you as soon as they decide, usually within two working days. You do not need to do anything until then.",
			},
			Action: "See your request",
		},
		KindConfirmed: {
			Label:     "return confirmed",
			Subject:   "Your return {{.RMA}} is confirmed{{if not .KeepIt}}: your free label{{end}}",
			Preheader: "{{if .KeepIt}}You can keep the items; your {{.Resolution}} is on its way.{{else}}Print the attached label and hand in your parcel by {{.ValidUntil}}.{{end}}",
			Heading:   "Your return is confirmed",
			Body: []string{
				"Your return {{.RMA}} for {{.Items}} is confirmed. You will get {{.Total}} back ({{.Resolution}}).",
				"{{if .KeepIt}}You do not need to send anything back: keep the items, and we will tell you when your {{.Resolution}} is on its way.{{else}}Your free return label is attached. It is valid until {{.ValidUntil}}.{{end}}",
			},
			Steps: []string{
				"Print the attached label.",
				"Pack the items securely and stick the label on the parcel, covering any old labels.",
				"Hand the parcel to {{.Carrier}} before {{.ValidUntil}}.",
			},
			Action: "See your return",
		},
		KindApproved: {
			Label:     "return approved",
			Subject:   "Good news: your return {{.RMA}} is approved",
			Preheader: "{{if .KeepIt}}You can keep the items.{{else}}Your free label is attached.{{end}}",
			Heading:   "{{.Shop}} approved your return",
			Body: []string{
				"{{.Shop}} approved your return {{.RMA}} for {{.Items}}. You will get {{.Total}} back ({{.Resolution}}).",
				"{{if .KeepIt}}You do not need to send anything back: keep the items.{{else}}Your free return label is attached. It is valid until {{.ValidUntil}}.{{end}}",
			},
			Steps: []string{
				"Print the attached label.",
				"Pack the items securely and stick the label on the parcel, covering any old labels.",
				"Hand the parcel to {{.Carrier}} before {{.ValidUntil}}.",
			},
			Action: "See your return",
		},
		KindRejected: {
			Label:     "return declined",
			Subject:   "About your return request {{.RMA}}",
			Preheader: "{{.Shop}} could not accept this return.",
			Heading:   "{{.Shop}} could not accept your return",
			Body: []string{
				"We are sorry: {{.Shop}} could not accept your return request {{.RMA}} for {{.Items}}.",
				"{{if .Reason}}The reason they gave: “{{.Reason}}”{{end}}",
				"Please keep the items. If you think this is a mistake, reply to this email and the team will look at it again.",
			},
			Action: "See your request",
		},
		KindLabelReminder: {
			Label:     "label expires soon",
			Subject:   "Your return label for {{.RMA}} expires on {{.ValidUntil}}",
			Preheader: "Hand in your parcel before then; the label is attached again.",
			Heading:   "Your label expires in two days",
			Body: []string{
				"Your free return label for {{.RMA}} is valid until {{.ValidUntil}}, and the carrier has not seen your parcel yet.",
				"Please hand it in before then so that your {{.Resolution}} of {{.Total}} is not held up. The label is attached again in case you need to print it.",
				"Changed your mind? You can cancel the return on its page.",
			},
			Action: "See your return",
		},
		KindInTransit: {
			Label:     "parcel on its way",
			Subject:   "Your return {{.RMA}} is on its way",
			Preheader: "{{.Carrier}} has your parcel.",
			Heading:   "Your parcel is on its way",
			Body: []string{
				"{{.Carrier}} has your parcel{{if .Tracking}} ({{.Tracking}}){{end}} and is bringing it to {{.Shop}}.",
				"We will tell you when it arrives. You do not need to do anything.",
			},
			Action: "Follow your return",
		},
		KindArrived: {
			Label:     "parcel arrived",
			Subject:   "Your return {{.RMA}} has arrived",
			Preheader: "{{.Shop}} has your parcel and checks the items.",
			Heading:   "Your parcel has arrived",
			Body: []string{
				"Your parcel for return {{.RMA}} has arrived at {{.Shop}}.",
				"{{if eq .Trigger \"on_inspection\"}}The team checks the items, and then sends your {{.Resolution}}.{{else}}Your {{.Resolution}} follows as soon as the items are checked in, usually the same day.{{end}} We will email you when it is on its way.",
			},
			Action: "Follow your return",
		},
		KindRefundSent: {
			Label:     "refund sent",
			Subject:   "Your refund of {{.Amount}} is on its way",
			Preheader: "Back to the card you paid with.",
			Heading:   "We sent your refund",
			Body: []string{
				"We sent your refund of {{.Amount}} for return {{.RMA}} back to the card you paid with.",
				"Banks usually show it within 5 to 10 working days; some show it as a credit, some as a cancelled payment. If you do not see it after 10 working days, ask your bank first, then reply to this email.",
			},
			Action: "See your return",
		},
		KindRefundDelayed: {
			Label:     "refund delayed",
			Subject:   "Your refund for {{.RMA}} takes a little longer",
			Preheader: "You do not need to do anything.",
			Heading:   "Your refund is delayed",
			Body: []string{
				"We tried to send your refund of {{.Amount}} for return {{.RMA}}, but the payment provider could not complete it.",
				"The {{.Shop}} team has been told and will send it again; you do not need to do anything. We will email you as soon as it is on its way.",
			},
			Action: "See your return",
		},
		KindCreditIssued: {
			Label:     "store credit issued",
			Subject:   "{{.Amount}} store credit for you at {{.Shop}}",
			Preheader: "Your balance is {{.Balance}}.",
			Heading:   "Your store credit is ready",
			Body: []string{
				"For your return {{.RMA}} you have {{.Amount}} of store credit{{if .Bonus}}, including a bonus of {{.Bonus}}{{end}}.",
				"Your balance is now {{.Balance}}. It is linked to {{.Email}}: use that email address at checkout at {{.Shop}} and the credit is taken off your order.",
				"{{if .Code}}Or give its code at checkout: {{.Code}}. Keep this email: the code is not shown again.{{end}}",
			},
			Action: "See your return",
		},
		KindReplacementShipped: {
			Label:     "replacement shipped",
			Subject:   "Your replacement for {{.RMA}} is on its way",
			Preheader: "{{.Carrier}}, tracking number {{.Tracking}}.",
			Heading:   "Your replacement is on its way",
			Body: []string{
				"{{.Shop}} sent {{.Items}} in exchange for your return {{.RMA}}.",
				"It travels with {{.Carrier}}, tracking number {{.Tracking}}.",
			},
			Action: "See your return",
		},
		KindCompleted: {
			Label:     "return completed",
			Subject:   "Your return {{.RMA}} is complete",
			Preheader: "How easy was it? One click tells us.",
			Heading:   "Your return is complete",
			Body: []string{
				"Your return {{.RMA}} is complete: {{.Total}} ({{.Resolution}}). Thank you for shopping with {{.Shop}}.",
			},
			Action: "See your return",
		},
	},
}
