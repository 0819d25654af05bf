package email

// Spanish is the catalogue of the emails in Spanish.
var Spanish = catalogue{
	Common: map[string]string{
		"greeting":                "Hola, {{.FirstName}}:",
		"greeting_nameless":       "Hola:",
		"status_intro":            "Puede seguir su devolución en cualquier momento, sin iniciar sesión:",
		"signoff":                 "Gracias, el equipo de {{.Shop}}",
		"questions":               "¿Preguntas? Responda a este correo{{if .Support}} o escriba a {{.Support}}{{end}}.",
		"why":                     "Recibe este correo porque está devolviendo artículos del pedido {{.OrderNumber}} de {{.Shop}}.",
		"unsubscribe":             "Dejar de recibir correos de estado de las devoluciones (seguirá recibiendo los avisos sobre su dinero)",
		"attachment":              "Su etiqueta va adjunta en PDF.",
		"feedback_question":       "¿Qué tan fácil fue su devolución? Basta un clic:",
		"rma":                     "Devolución {{.RMA}}",
		"resolution_refund":       "reembolso",
		"resolution_store_credit": "saldo en tienda",
		"resolution_exchange":     "cambio",
		"item":                    "{{.Quantity}} × {{.Name}}",
		"item_join":               "; ",
	},
	Ease: [5]string{"1 · muy difícil", "2 · difícil", "3 · regular", "4 · fácil", "5 · muy fácil"},
	Kinds: map[Kind]kindText{
		KindReviewNeeded: {
			Subject:   "Hemos recibido su solicitud de devolución {{.RMA}}",
			Preheader: "{{.Shop}} la revisa y le responderá pronto.",
			Heading:   "Su solicitud de devolución está en manos de {{.Shop}}",
			Body: []string{
				"Gracias por su solicitud de devolución {{.RMA}} de {{.Items}}.",
				"{{.Shop}} revisa solicitudes como esta antes de enviar una etiqueta. Le escribiremos en cuanto decidan, normalmente en dos días laborables. Hasta entonces no tiene que hacer nada.",
			},
			Action: "Ver su solicitud",
		},
		KindConfirmed: {
			Subject:   "Su devolución {{.RMA}} está confirmada{{if not .KeepIt}}: su etiqueta gratuita{{end}}",
			Preheader: "{{if .KeepIt}}Puede quedarse con los artículos; su {{.Resolution}} está en camino.{{else}}Imprima la etiqueta adjunta y entregue su paquete antes del {{.ValidUntil}}.{{end}}",
			Heading:   "Su devolución está confirmada",
			Body: []string{
				"Su devolución {{.RMA}} de {{.Items}} está confirmada. Recibirá {{.Total}} ({{.Resolution}}).",
				"{{if .KeepIt}}No tiene que devolver nada: quédese con los artículos; le avisaremos cuando su {{.Resolution}} esté en camino.{{else}}Su etiqueta de devolución gratuita va adjunta. Es válida hasta el {{.ValidUntil}}.{{end}}",
			},
			Steps: []string{
				"Imprima la etiqueta adjunta.",
				"Embale bien los artículos y pegue la etiqueta en el paquete, tapando las etiquetas antiguas.",
				"Entregue el paquete a {{.Carrier}} antes del {{.ValidUntil}}.",
			},
			Action: "Ver su devolución",
		},
		KindApproved: {
			Subject:   "Buenas noticias: su devolución {{.RMA}} está aprobada",
			Preheader: "{{if .KeepIt}}Puede quedarse con los artículos.{{else}}Su etiqueta gratuita va adjunta.{{end}}",
			Heading:   "{{.Shop}} aprobó su devolución",
			Body: []string{
				"{{.Shop}} aprobó su devolución {{.RMA}} de {{.Items}}. Recibirá {{.Total}} ({{.Resolution}}).",
				"{{if .KeepIt}}No tiene que devolver nada: quédese con los artículos.{{else}}Su etiqueta de devolución gratuita va adjunta. Es válida hasta el {{.ValidUntil}}.{{end}}",
			},
			Steps: []string{
				"Imprima la etiqueta adjunta.",
				"Embale bien los artículos y pegue la etiqueta en el paquete, tapando las etiquetas antiguas.",
				"Entregue el paquete a {{.Carrier}} antes del {{.ValidUntil}}.",
			},
			Action: "Ver su devolución",
		},
		KindRejected: {
			Subject:   "Sobre su solicitud de devolución {{.RMA}}",
			Preheader: "{{.Shop}} no ha podido aceptar esta devolución.",
			Heading:   "{{.Shop}} no ha podido aceptar su devolución",
			Body: []string{
				"Lo sentimos: {{.Shop}} no ha podido aceptar su solicitud de devolución {{.RMA}} de {{.Items}}.",
				"{{if .Reason}}El motivo indicado: «{{.Reason}}»{{end}}",
				"Por favor, quédese con los artículos. Si cree que es un error, responda a este correo y el equipo lo revisará de nuevo.",
			},
			Action: "Ver su solicitud",
		},
		KindLabelReminder: {
			Subject:   "Su etiqueta de devolución de {{.RMA}} caduca el {{.ValidUntil}}",
			Preheader: "Entregue su paquete antes; la etiqueta va adjunta de nuevo.",
			Heading:   "Su etiqueta caduca en dos días",
			Body: []string{
				"Su etiqueta de devolución gratuita de {{.RMA}} es válida hasta el {{.ValidUntil}} y el transportista aún no ha recibido su paquete.",
				"Entréguelo antes para que su {{.Resolution}} de {{.Total}} no se retrase. La etiqueta va adjunta de nuevo por si necesita imprimirla.",
				"¿Ha cambiado de opinión? Puede cancelar la devolución en su página.",
			},
			Action: "Ver su devolución",
		},
		KindInTransit: {
			Subject:   "Su devolución {{.RMA}} está en camino",
			Preheader: "{{.Carrier}} tiene su paquete.",
			Heading:   "Su paquete está en camino",
			Body: []string{
				"{{.Carrier}} tiene su paquete{{if .Tracking}} ({{.Tracking}}){{end}} y lo lleva a {{.Shop}}.",
				"Le avisaremos cuando llegue. No tiene que hacer nada.",
			},
			Action: "Seguir su devolución",
		},
		KindArrived: {
			Subject:   "Su devolución {{.RMA}} ha llegado",
			Preheader: "{{.Shop}} tiene su paquete y revisa los artículos.",
			Heading:   "Su paquete ha llegado",
			Body: []string{
				"Su paquete de la devolución {{.RMA}} ha llegado a {{.Shop}}.",
				"{{if eq .Trigger \"on_inspection\"}}El equipo revisa los artículos y después envía su {{.Resolution}}.{{else}}Su {{.Resolution}} llega en cuanto se registren los artículos, normalmente el mismo día.{{end}} Le escribiremos cuando esté en camino.",
			},
			Action: "Seguir su devolución",
		},
		KindRefundSent: {
			Subject:   "Su reembolso de {{.Amount}} está en camino",
			Preheader: "A la tarjeta con la que pagó.",
			Heading:   "Hemos enviado su reembolso",
			Body: []string{
				"Hemos enviado su reembolso de {{.Amount}} de la devolución {{.RMA}} a la tarjeta con la que pagó.",
				"Los bancos suelen mostrarlo en 5 a 10 días laborables; unos como abono, otros como pago anulado. Si no lo ve pasados 10 días laborables, consulte primero a su banco y después responda a este correo.",
			},
			Action: "Ver su devolución",
		},
		KindRefundDelayed: {
			Subject:   "Su reembolso de {{.RMA}} tarda un poco más",
			Preheader: "No tiene que hacer nada.",
			Heading:   "Su reembolso se ha retrasado",
			Body: []string{
				"Intentamos enviar su reembolso de {{.Amount}} de la devolución {{.RMA}}, pero el proveedor de pagos no pudo completarlo.",
				"El equipo de {{.Shop}} está avisado y lo enviará de nuevo; no tiene que hacer nada. Le escribiremos en cuanto esté en camino.",
			},
			Action: "Ver su devolución",
		},
		KindCreditIssued: {
			Subject:   "{{.Amount}} de saldo para usted en {{.Shop}}",
			Preheader: "Su saldo es de {{.Balance}}.",
			Heading:   "Su saldo en tienda está listo",
			Body: []string{
				"Por su devolución {{.RMA}} tiene {{.Amount}} de saldo en tienda{{if .Bonus}}, con una bonificación de {{.Bonus}}{{end}}.",
				"Su saldo es ahora de {{.Balance}}. Está vinculado a {{.Email}}: use esa dirección de correo al pagar en {{.Shop}} y el saldo se descontará de su pedido.",
				"{{if .Code}}O indique su código al pagar: {{.Code}}. Guarde este correo: el código no se volverá a mostrar.{{end}}",
			},
			Action: "Ver su devolución",
		},
		KindReplacementShipped: {
			Subject:   "Su artículo de sustitución de {{.RMA}} está en camino",
			Preheader: "{{.Carrier}}, número de seguimiento {{.Tracking}}.",
			Heading:   "Su sustitución está en camino",
			Body: []string{
				"{{.Shop}} ha enviado {{.Items}} a cambio de su devolución {{.RMA}}.",
				"Viaja con {{.Carrier}}, número de seguimiento {{.Tracking}}.",
			},
			Action: "Ver su devolución",
		},
		KindCompleted: {
			Subject:   "Su devolución {{.RMA}} se ha completado",
			Preheader: "¿Fue fácil? Un clic nos lo dice.",
			Heading:   "Su devolución se ha completado",
			Body: []string{
				"Su devolución {{.RMA}} se ha completado: {{.Total}} ({{.Resolution}}). Gracias por comprar en {{.Shop}}.",
			},
			Action: "Ver su devolución",
		},
	},
}
