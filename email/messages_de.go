package email

// German is the catalogue of the emails in German.
var German = catalogue{
	Common: map[string]string{
		"greeting":                "Hallo {{.FirstName}},",
		"greeting_nameless":       "Guten Tag,",
		"status_intro":            "Sie können Ihre Rücksendung jederzeit verfolgen, ohne sich anzumelden:",
		"signoff":                 "Vielen Dank, Ihr Team von {{.Shop}}",
		"questions":               "Fragen? Antworten Sie auf diese E-Mail{{if .Support}} oder schreiben Sie an {{.Support}}{{end}}.",
		"why":                     "Sie erhalten diese E-Mail, weil Sie Artikel der Bestellung {{.OrderNumber}} bei {{.Shop}} zurücksenden.",
		"unsubscribe":             "Keine Status-E-Mails zu Rücksendungen mehr (über Ihr Geld informieren wir Sie weiterhin)",
		"attachment":              "Ihr Etikett ist als PDF angehängt.",
		"feedback_question":       "Wie einfach war Ihre Rücksendung? Ein Klick genügt:",
		"rma":                     "Rücksendung {{.RMA}}",
		"resolution_refund":       "Erstattung",
		"resolution_store_credit": "Guthaben",
		"resolution_exchange":     "Umtausch",
		"item":                    "{{.Quantity}} × {{.Name}}",
		"item_join":               "; ",
	},
	Ease: [5]string{"1 · sehr schwer", "2 · schwer", "3 · mittel", "4 · einfach", "5 · sehr einfach"},
	Kinds: map[Kind]kindText{
		KindReviewNeeded: {
			Subject:   "Wir haben Ihre Rücksendeanfrage {{.RMA}} erhalten",
			Preheader: "{{.Shop}} prüft sie und meldet sich bald.",
			Heading:   "Ihre Rücksendeanfrage liegt bei {{.Shop}}",
			Body: []string{
				"Vielen Dank für Ihre Rücksendeanfrage {{.RMA}} für {{.Items}}.",
				"{{.Shop}} prüft Anfragen wie diese, bevor ein Etikett verschickt wird. Wir schreiben Ihnen, sobald die Entscheidung gefallen ist, meist innerhalb von zwei Werktagen. Bis dahin müssen Sie nichts tun.",
			},
			Action: "Ihre Anfrage ansehen",
		},
		KindConfirmed: {
			Subject:   "Ihre Rücksendung {{.RMA}} ist bestätigt{{if not .KeepIt}}: Ihr kostenloses Etikett{{end}}",
			Preheader: "{{if .KeepIt}}Sie können die Artikel behalten; Ihre {{.Resolution}} ist unterwegs.{{else}}Drucken Sie das angehängte Etikett aus und geben Sie Ihr Paket bis {{.ValidUntil}} ab.{{end}}",
			Heading:   "Ihre Rücksendung ist bestätigt",
			Body: []string{
				"Ihre Rücksendung {{.RMA}} für {{.Items}} ist bestätigt. Sie erhalten {{.Total}} zurück ({{.Resolution}}).",
				"{{if .KeepIt}}Sie müssen nichts zurückschicken: Behalten Sie die Artikel. Wir sagen Ihnen Bescheid, sobald Ihre {{.Resolution}} unterwegs ist.{{else}}Ihr kostenloses Rücksendeetikett ist angehängt. Es ist gültig bis {{.ValidUntil}}.{{end}}",
			},
			Steps: []string{
				"Drucken Sie das angehängte Etikett aus.",
				"Verpacken Sie die Artikel sicher und kleben Sie das Etikett auf das Paket, über alte Etiketten.",
				"Geben Sie das Paket vor {{.ValidUntil}} bei {{.Carrier}} ab.",
			},
			Action: "Ihre Rücksendung ansehen",
		},
		KindApproved: {
			Subject:   "Gute Nachricht: Ihre Rücksendung {{.RMA}} ist genehmigt",
			Preheader: "{{if .KeepIt}}Sie können die Artikel behalten.{{else}}Ihr kostenloses Etikett ist angehängt.{{end}}",
			Heading:   "{{.Shop}} hat Ihre Rücksendung genehmigt",
			Body: []string{
				"{{.Shop}} hat Ihre Rücksendung {{.RMA}} für {{.Items}} genehmigt. Sie erhalten {{.Total}} zurück ({{.Resolution}}).",
				"{{if .KeepIt}}Sie müssen nichts zurückschicken: Behalten Sie die Artikel.{{else}}Ihr kostenloses Rücksendeetikett ist angehängt. Es ist gültig bis {{.ValidUntil}}.{{end}}",
			},
			Steps: []string{
				"Drucken Sie das angehängte Etikett aus.",
				"Verpacken Sie die Artikel sicher und kleben Sie das Etikett auf das Paket, über alte Etiketten.",
				"Geben Sie das Paket vor {{.ValidUntil}} bei {{.Carrier}} ab.",
			},
			Action: "Ihre Rücksendung ansehen",
		},
		KindRejected: {
			Subject:   "Zu Ihrer Rücksendeanfrage {{.RMA}}",
			Preheader: "{{.Shop}} konnte diese Rücksendung nicht annehmen.",
			Heading:   "{{.Shop}} konnte Ihre Rücksendung nicht annehmen",
			Body: []string{
				"Es tut uns leid: {{.Shop}} konnte Ihre Rücksendeanfrage {{.RMA}} für {{.Items}} nicht annehmen.",
				"{{if .Reason}}Die angegebene Begründung: „{{.Reason}}“{{end}}",
				"Bitte behalten Sie die Artikel. Wenn Sie glauben, dass es sich um einen Irrtum handelt, antworten Sie auf diese E-Mail, und das Team sieht es sich noch einmal an.",
			},
			Action: "Ihre Anfrage ansehen",
		},
		KindLabelReminder: {
			Subject:   "Ihr Rücksendeetikett für {{.RMA}} läuft am {{.ValidUntil}} ab",
			Preheader: "Geben Sie Ihr Paket vorher ab; das Etikett ist noch einmal angehängt.",
			Heading:   "Ihr Etikett läuft in zwei Tagen ab",
			Body: []string{
				"Ihr kostenloses Rücksendeetikett für {{.RMA}} ist gültig bis {{.ValidUntil}}, und der Versanddienst hat Ihr Paket noch nicht erfasst.",
				"Bitte geben Sie es vorher ab, damit sich Ihre {{.Resolution}} über {{.Total}} nicht verzögert. Das Etikett ist noch einmal angehängt, falls Sie es drucken müssen.",
				"Haben Sie es sich anders überlegt? Sie können die Rücksendung auf ihrer Seite stornieren.",
			},
			Action: "Ihre Rücksendung ansehen",
		},
		KindInTransit: {
			Subject:   "Ihre Rücksendung {{.RMA}} ist unterwegs",
			Preheader: "{{.Carrier}} hat Ihr Paket.",
			Heading:   "Ihr Paket ist unterwegs",
			Body: []string{
				"{{.Carrier}} hat Ihr Paket{{if .Tracking}} ({{.Tracking}}){{end}} und bringt es zu {{.Shop}}.",
				"Wir sagen Ihnen Bescheid, wenn es ankommt. Sie müssen nichts tun.",
			},
			Action: "Rücksendung verfolgen",
		},
		KindArrived: {
			Subject:   "Ihre Rücksendung {{.RMA}} ist angekommen",
			Preheader: "{{.Shop}} hat Ihr Paket und prüft die Artikel.",
			Heading:   "Ihr Paket ist angekommen",
			Body: []string{
				"Ihr Paket für die Rücksendung {{.RMA}} ist bei {{.Shop}} angekommen.",
				"{{if eq .Trigger \"on_inspection\"}}Das Team prüft die Artikel und veranlasst dann Ihre {{.Resolution}}.{{else}}Ihre {{.Resolution}} folgt, sobald die Artikel erfasst sind, meist noch am selben Tag.{{end}} Wir schreiben Ihnen, sobald sie unterwegs ist.",
			},
			Action: "Rücksendung verfolgen",
		},
		KindRefundSent: {
			Subject:   "Ihre Erstattung über {{.Amount}} ist unterwegs",
			Preheader: "Zurück auf die Karte, mit der Sie bezahlt haben.",
			Heading:   "Wir haben Ihre Erstattung veranlasst",
			Body: []string{
				"Wir haben Ihre Erstattung über {{.Amount}} für die Rücksendung {{.RMA}} auf die Karte veranlasst, mit der Sie bezahlt haben.",
				"Banken zeigen sie meist innerhalb von 5 bis 10 Werktagen an, manche als Gutschrift, manche als stornierte Zahlung. Sehen Sie sie nach 10 Werktagen nicht, fragen Sie zuerst Ihre Bank und antworten Sie dann auf diese E-Mail.",
			},
			Action: "Ihre Rücksendung ansehen",
		},
		KindRefundDelayed: {
			Subject:   "Ihre Erstattung für {{.RMA}} dauert etwas länger",
			Preheader: "Sie müssen nichts tun.",
			Heading:   "Ihre Erstattung verzögert sich",
			Body: []string{
				"Wir wollten Ihre Erstattung über {{.Amount}} für die Rücksendung {{.RMA}} veranlassen, aber der Zahlungsdienst konnte sie nicht ausführen.",
				"Das Team von {{.Shop}} ist informiert und veranlasst sie erneut; Sie müssen nichts tun. Wir schreiben Ihnen, sobald sie unterwegs ist.",
			},
			Action: "Ihre Rücksendung ansehen",
		},
		KindCreditIssued: {
			Subject:   "{{.Amount}} Guthaben für Sie bei {{.Shop}}",
			Preheader: "Ihr Guthaben beträgt {{.Balance}}.",
			Heading:   "Ihr Guthaben steht bereit",
			Body: []string{
				"Für Ihre Rücksendung {{.RMA}} erhalten Sie {{.Amount}} Guthaben{{if .Bonus}}, davon {{.Bonus}} als Bonus{{end}}.",
				"Ihr Guthaben beträgt jetzt {{.Balance}}. Es ist mit {{.Email}} verknüpft: Geben Sie diese E-Mail-Adresse an der Kasse von {{.Shop}} an, und das Guthaben wird von Ihrer Bestellung abgezogen.",
				"{{if .Code}}Oder geben Sie an der Kasse seinen Code ein: {{.Code}}. Bewahren Sie diese E-Mail auf: Der Code wird nicht noch einmal angezeigt.{{end}}",
			},
			Action: "Ihre Rücksendung ansehen",
		},
		KindReplacementShipped: {
			Subject:   "Ihr Ersatz für {{.RMA}} ist unterwegs",
			Preheader: "{{.Carrier}}, Sendungsnummer {{.Tracking}}.",
			Heading:   "Ihr Ersatz ist unterwegs",
			Body: []string{
				"{{.Shop}} hat {{.Items}} im Umtausch für Ihre Rücksendung {{.RMA}} verschickt.",
				"Die Sendung reist mit {{.Carrier}}, Sendungsnummer {{.Tracking}}.",
			},
			Action: "Ihre Rücksendung ansehen",
		},
		KindCompleted: {
			Subject:   "Ihre Rücksendung {{.RMA}} ist abgeschlossen",
			Preheader: "Wie einfach war es? Ein Klick genügt.",
			Heading:   "Ihre Rücksendung ist abgeschlossen",
			Body: []string{
				"Ihre Rücksendung {{.RMA}} ist abgeschlossen: {{.Total}} ({{.Resolution}}). Vielen Dank für Ihren Einkauf bei {{.Shop}}.",
			},
			Action: "Ihre Rücksendung ansehen",
		},
	},
}
