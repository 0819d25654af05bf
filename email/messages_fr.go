package email

// French is the catalogue of the emails in French.
var French = catalogue{
	Common: map[string]string{
		"greeting":                "Bonjour {{.FirstName}},",
		"greeting_nameless":       "Bonjour,",
		"status_intro":            "Vous pouvez suivre votre retour à tout moment, sans vous connecter :",
		"signoff":                 "Merci, l’équipe {{.Shop}}",
		"questions":               "Des questions ? Répondez à cet e-mail{{if .Support}} ou écrivez à {{.Support}}{{end}}.",
		"why":                     "Vous recevez cet e-mail parce que vous retournez des articles de la commande {{.OrderNumber}} chez {{.Shop}}.",
		"unsubscribe":             "Ne plus recevoir d’e-mails de suivi des retours (vous serez toujours informé de votre argent)",
		"attachment":              "Votre étiquette est jointe en PDF.",
		"feedback_question":       "Votre retour a-t-il été facile ? Un clic suffit :",
		"rma":                     "Retour {{.RMA}}",
		"resolution_refund":       "remboursement",
		"resolution_store_credit": "avoir",
		"resolution_exchange":     "échange",
		"item":                    "{{.Quantity}} × {{.Name}}",
		"item_join":               " ; ",
	},
	Ease: [5]string{"1 · très difficile", "2 · difficile", "3 · moyen", "4 · facile", "5 · très facile"},
	Kinds: map[Kind]kindText{
		KindReviewNeeded: {
			Subject:   "Nous avons reçu votre demande de retour {{.RMA}}",
			Preheader: "{{.Shop}} l’examine et vous répond bientôt.",
			Heading:   "Votre demande de retour est entre les mains de {{.Shop}}",
			Body: []string{
				"Merci pour votre demande de retour {{.RMA}} pour {{.Items}}.",
				"{{.Shop}} examine les demandes comme celle-ci avant d’envoyer une étiquette. Nous vous écrirons dès la décision prise, en général sous deux jours ouvrés. D’ici là, vous n’avez rien à faire.",
			},
			Action: "Voir votre demande",
		},
		KindConfirmed: {
			Subject:   "Votre retour {{.RMA}} est confirmé{{if not .KeepIt}} : votre étiquette gratuite{{end}}",
			Preheader: "{{if .KeepIt}}Vous pouvez garder les articles ; votre {{.Resolution}} est en route.{{else}}Imprimez l’étiquette jointe et déposez votre colis avant le {{.ValidUntil}}.{{end}}",
			Heading:   "Votre retour est confirmé",
			Body: []string{
				"Votre retour {{.RMA}} pour {{.Items}} est confirmé. Vous recevrez {{.Total}} ({{.Resolution}}).",
				"{{if .KeepIt}}Vous n’avez rien à renvoyer : gardez les articles, nous vous préviendrons quand votre {{.Resolution}} sera en route.{{else}}Votre étiquette de retour gratuite est jointe. Elle est valable jusqu’au {{.ValidUntil}}.{{end}}",
			},
			Steps: []string{
				"Imprimez l’étiquette jointe.",
				"Emballez soigneusement les articles et collez l’étiquette sur le colis, en couvrant les anciennes étiquettes.",
				"Confiez le colis à {{.Carrier}} avant le {{.ValidUntil}}.",
			},
			Action: "Voir votre retour",
		},
		KindApproved: {
			Subject:   "Bonne nouvelle : votre retour {{.RMA}} est accepté",
			Preheader: "{{if .KeepIt}}Vous pouvez garder les articles.{{else}}Votre étiquette gratuite est jointe.{{end}}",
			Heading:   "{{.Shop}} a accepté votre retour",
			Body: []string{
				"{{.Shop}} a accepté votre retour {{.RMA}} pour {{.Items}}. Vous recevrez {{.Total}} ({{.Resolution}}).",
				"{{if .KeepIt}}Vous n’avez rien à renvoyer : gardez les articles.{{else}}Votre étiquette de retour gratuite est jointe. Elle est valable jusqu’au {{.ValidUntil}}.{{end}}",
			},
			Steps: []string{
				"Imprimez l’étiquette jointe.",
				"Emballez soigneusement les articles et collez l’étiquette sur le colis, en couvrant les anciennes étiquettes.",
				"Confiez le colis à {{.Carrier}} avant le {{.ValidUntil}}.",
			},
			Action: "Voir votre retour",
		},
		KindRejected: {
			Subject:   "À propos de votre demande de retour {{.RMA}}",
			Preheader: "{{.Shop}} n’a pas pu accepter ce retour.",
			Heading:   "{{.Shop}} n’a pas pu accepter votre retour",
			Body: []string{
				"Nous sommes désolés : {{.Shop}} n’a pas pu accepter votre demande de retour {{.RMA}} pour {{.Items}}.",
				"{{if .Reason}}Le motif indiqué : « {{.Reason}} »{{end}}",
				"Merci de garder les articles. Si vous pensez qu’il s’agit d’une erreur, répondez à cet e-mail et l’équipe réexaminera votre demande.",
			},
			Action: "Voir votre demande",
		},
		KindLabelReminder: {
			Subject:   "Votre étiquette de retour pour {{.RMA}} expire le {{.ValidUntil}}",
			Preheader: "Déposez votre colis d’ici là ; l’étiquette est jointe à nouveau.",
			Heading:   "Votre étiquette expire dans deux jours",
			Body: []string{
				"Votre étiquette de retour gratuite pour {{.RMA}} est valable jusqu’au {{.ValidUntil}}, et le transporteur n’a pas encore vu votre colis.",
				"Merci de le déposer d’ici là pour que votre {{.Resolution}} de {{.Total}} ne soit pas retardé. L’étiquette est jointe à nouveau si vous devez l’imprimer.",
				"Vous avez changé d’avis ? Vous pouvez annuler le retour sur sa page.",
			},
			Action: "Voir votre retour",
		},
		KindInTransit: {
			Subject:   "Votre retour {{.RMA}} est en route",
			Preheader: "{{.Carrier}} a pris en charge votre colis.",
			Heading:   "Votre colis est en route",
			Body: []string{
				"{{.Carrier}} a pris en charge votre colis{{if .Tracking}} ({{.Tracking}}){{end}} et l’achemine vers {{.Shop}}.",
				"Nous vous préviendrons à son arrivée. Vous n’avez rien à faire.",
			},
			Action: "Suivre votre retour",
		},
		KindArrived: {
			Subject:   "Votre retour {{.RMA}} est arrivé",
			Preheader: "{{.Shop}} a reçu votre colis et vérifie les articles.",
			Heading:   "Votre colis est arrivé",
			Body: []string{
				"Votre colis pour le retour {{.RMA}} est arrivé chez {{.Shop}}.",
				"{{if eq .Trigger \"on_inspection\"}}L’équipe vérifie les articles, puis envoie votre {{.Resolution}}.{{else}}Votre {{.Resolution}} suit dès l’enregistrement des articles, en général le jour même.{{end}} Nous vous écrirons dès qu’il sera en route.",
			},
			Action: "Suivre votre retour",
		},
		KindRefundSent: {
			Subject:   "Votre remboursement de {{.Amount}} est en route",
			Preheader: "Sur la carte avec laquelle vous avez payé.",
			Heading:   "Nous avons envoyé votre remboursement",
			Body: []string{
				"Nous avons envoyé votre remboursement de {{.Amount}} pour le retour {{.RMA}} sur la carte avec laquelle vous avez payé.",
				"Les banques l’affichent en général sous 5 à 10 jours ouvrés, parfois comme un crédit, parfois comme un paiement annulé. Si vous ne le voyez pas après 10 jours ouvrés, demandez d’abord à votre banque, puis répondez à cet e-mail.",
			},
			Action: "Voir votre retour",
		},
		KindRefundDelayed: {
			Subject:   "Votre remboursement pour {{.RMA}} prend un peu plus de temps",
			Preheader: "Vous n’avez rien à faire.",
			Heading:   "Votre remboursement est retardé",
			Body: []string{
				"Nous avons essayé d’envoyer votre remboursement de {{.Amount}} pour le retour {{.RMA}}, mais le prestataire de paiement n’a pas pu l’effectuer.",
				"L’équipe {{.Shop}} est prévenue et le renverra ; vous n’avez rien à faire. Nous vous écrirons dès qu’il sera en route.",
			},
			Action: "Voir votre retour",
		},
		KindCreditIssued: {
			Subject:   "{{.Amount}} d’avoir pour vous chez {{.Shop}}",
			Preheader: "Votre solde est de {{.Balance}}.",
			Heading:   "Votre avoir est prêt",
			Body: []string{
				"Pour votre retour {{.RMA}}, vous disposez de {{.Amount}} d’avoir{{if .Bonus}}, dont un bonus de {{.Bonus}}{{end}}.",
				"Votre solde est maintenant de {{.Balance}}. Il est lié à {{.Email}} : utilisez cette adresse e-mail lors de votre commande chez {{.Shop}} et l’avoir sera déduit.",
				"{{if .Code}}Ou saisissez son code lors de la commande : {{.Code}}. Gardez cet e-mail : le code ne sera plus affiché.{{end}}",
			},
			Action: "Voir votre retour",
		},
		KindReplacementShipped: {
			Subject:   "Votre article de remplacement pour {{.RMA}} est en route",
			Preheader: "{{.Carrier}}, numéro de suivi {{.Tracking}}.",
			Heading:   "Votre remplacement est en route",
			Body: []string{
				"{{.Shop}} a envoyé {{.Items}} en échange de votre retour {{.RMA}}.",
				"Le colis voyage avec {{.Carrier}}, numéro de suivi {{.Tracking}}.",
			},
			Action: "Voir votre retour",
		},
		KindCompleted: {
			Subject:   "Votre retour {{.RMA}} est terminé",
			Preheader: "Était-ce facile ? Un clic suffit pour nous le dire.",
			Heading:   "Votre retour est terminé",
			Body: []string{
				"Votre retour {{.RMA}} est terminé : {{.Total}} ({{.Resolution}}). Merci pour vos achats chez {{.Shop}}.",
			},
			Action: "Voir votre retour",
		},
	},
}
