package email

// Japanese is the catalogue of the emails in Japanese.
var Japanese = catalogue{
	Common: map[string]string{
		"greeting":                "{{.FirstName}} 様",
		"greeting_nameless":       "お客様",
		"status_intro":            "返品の状況はログインせずにいつでも確認できます。",
		"signoff":                 "{{.Shop}} チーム",
		"questions":               "ご不明な点は、このメールにご返信ください{{if .Support}}（または {{.Support}} までご連絡ください）{{end}}。",
		"why":                     "{{.Shop}} のご注文 {{.OrderNumber}} の商品を返品されているため、このメールをお送りしています。",
		"unsubscribe":             "返品の状況メールを停止する（返金に関するお知らせは引き続きお送りします）",
		"attachment":              "返品ラベルをPDFで添付しています。",
		"feedback_question":       "返品の手続きはいかがでしたか？ワンクリックでお答えください。",
		"rma":                     "返品番号 {{.RMA}}",
		"resolution_refund":       "返金",
		"resolution_store_credit": "ストアクレジット",
		"resolution_exchange":     "交換",
		"item":                    "{{.Name}} × {{.Quantity}}",
		"item_join":               "、",
	},
	Ease: [5]string{"1 · とても難しい", "2 · 難しい", "3 · ふつう", "4 · 簡単", "5 · とても簡単"},
	Kinds: map[Kind]kindText{
		KindReviewNeeded: {
			Subject:   "返品リクエスト {{.RMA}} を受け付けました",
			Preheader: "{{.Shop}} が確認し、まもなくご連絡します。",
			Heading:   "返品リクエストを {{.Shop}} が確認中です",
			Body: []string{
				"{{.Items}} の返品リクエスト {{.RMA}} をありがとうございます。",
				"{{.Shop}} はこのようなリクエストを確認してからラベルをお送りします。決定しだい、通常2営業日以内にメールでお知らせします。それまでお客様の操作は不要です。",
			},
			Action: "リクエストを見る",
		},
		KindConfirmed: {
			Subject:   "返品 {{.RMA}} が確定しました{{if not .KeepIt}}：無料の返品ラベル{{end}}",
			Preheader: "{{if .KeepIt}}商品はそのままお持ちください。{{.Resolution}}の手続きを進めています。{{else}}添付のラベルを印刷し、{{.ValidUntil}}までに荷物をお預けください。{{end}}",
			Heading:   "返品が確定しました",
			Body: []string{
				"{{.Items}} の返品 {{.RMA}} が確定しました。{{.Total}}（{{.Resolution}}）をお受け取りいただけます。",
				"{{if .KeepIt}}商品を送り返す必要はありません。そのままお持ちください。{{.Resolution}}の手続きが進みしだいお知らせします。{{else}}無料の返品ラベルを添付しています。有効期限は{{.ValidUntil}}です。{{end}}",
			},
			Steps: []string{
				"添付のラベルを印刷してください。",
				"商品をしっかり梱包し、古いラベルを覆うように荷物にラベルを貼ってください。",
				"{{.ValidUntil}}までに荷物を{{.Carrier}}にお預けください。",
			},
			Action: "返品を見る",
		},
		KindApproved: {
			Subject:   "返品 {{.RMA}} が承認されました",
			Preheader: "{{if .KeepIt}}商品はそのままお持ちください。{{else}}無料のラベルを添付しています。{{end}}",
			Heading:   "{{.Shop}} が返品を承認しました",
			Body: []string{
				"{{.Shop}} が {{.Items}} の返品 {{.RMA}} を承認しました。{{.Total}}（{{.Resolution}}）をお受け取りいただけます。",
				"{{if .KeepIt}}商品を送り返す必要はありません。そのままお持ちください。{{else}}無料の返品ラベルを添付しています。有効期限は{{.ValidUntil}}です。{{end}}",
			},
			Steps: []string{
				"添付のラベルを印刷してください。",
				"商品をしっかり梱包し、古いラベルを覆うように荷物にラベルを貼ってください。",
				"{{.ValidUntil}}までに荷物を{{.Carrier}}にお預けください。",
			},
			Action: "返品を見る",
		},
		KindRejected: {
			Subject:   "返品リクエスト {{.RMA}} について",
			Preheader: "{{.Shop}} はこの返品をお受けできませんでした。",
			Heading:   "{{.Shop}} は返品をお受けできませんでした",
			Body: []string{
				"申し訳ありません。{{.Shop}} は {{.Items}} の返品リクエスト {{.RMA}} をお受けできませんでした。",
				"{{if .Reason}}理由：「{{.Reason}}」{{end}}",
				"商品はそのままお持ちください。誤りだと思われる場合は、このメールにご返信いただければ、チームが改めて確認します。",
			},
			Action: "リクエストを見る",
		},
		KindLabelReminder: {
			Subject:   "{{.RMA}} の返品ラベルの有効期限は{{.ValidUntil}}です",
			Preheader: "期限までに荷物をお預けください。ラベルを再度添付しています。",
			Heading:   "ラベルの有効期限まであと2日です",
			Body: []string{
				"{{.RMA}} の無料返品ラベルの有効期限は{{.ValidUntil}}ですが、配送業者はまだ荷物を受け取っていません。",
				"{{.Total}}の{{.Resolution}}が遅れないよう、期限までにお預けください。印刷が必要な場合に備えて、ラベルを再度添付しています。",
				"気が変わりましたか？返品のページから取り消すことができます。",
			},
			Action: "返品を見る",
		},
		KindInTransit: {
			Subject:   "返品 {{.RMA}} を配送中です",
			Preheader: "{{.Carrier}}が荷物をお預かりしました。",
			Heading:   "荷物を配送中です",
			Body: []string{
				"{{.Carrier}}が荷物{{if .Tracking}}（{{.Tracking}}）{{end}}をお預かりし、{{.Shop}} へ配送しています。",
				"到着したらお知らせします。お客様の操作は不要です。",
			},
			Action: "返品の状況を見る",
		},
		KindArrived: {
			Subject:   "返品 {{.RMA}} が到着しました",
			Preheader: "{{.Shop}} が荷物を受け取り、商品を確認しています。",
			Heading:   "荷物が到着しました",
			Body: []string{
				"返品 {{.RMA}} の荷物が {{.Shop}} に到着しました。",
				"{{if eq .Trigger \"on_inspection\"}}チームが商品を確認したあと、{{.Resolution}}の手続きを行います。{{else}}商品の受付が済みしだい、通常は当日中に{{.Resolution}}の手続きを行います。{{end}}手続きが済みましたらメールでお知らせします。",
			},
			Action: "返品の状況を見る",
		},
		KindRefundSent: {
			Subject:   "{{.Amount}}の返金を手続きしました",
			Preheader: "お支払いに使われたカードに返金します。",
			Heading:   "返金を手続きしました",
			Body: []string{
				"返品 {{.RMA}} の{{.Amount}}を、お支払いに使われたカードに返金しました。",
				"銀行での反映には通常5〜10営業日かかります。入金として表示される場合と、支払いの取り消しとして表示される場合があります。10営業日を過ぎても確認できない場合は、まず銀行にお問い合わせのうえ、このメールにご返信ください。",
			},
			Action: "返品を見る",
		},
		KindRefundDelayed: {
			Subject:   "{{.RMA}} の返金に少しお時間をいただいています",
			Preheader: "お客様の操作は不要です。",
			Heading:   "返金が遅れています",
			Body: []string{
				"返品 {{.RMA}} の{{.Amount}}を返金しようとしましたが、決済サービスで処理できませんでした。",
				"{{.Shop}} のチームに連絡済みで、改めて返金を行います。お客様の操作は不要です。手続きが済みしだいメールでお知らせします。",
			},
			Action: "返品を見る",
		},
		KindCreditIssued: {
			Subject:   "{{.Shop}} で使える{{.Amount}}のストアクレジット",
			Preheader: "残高は{{.Balance}}です。",
			Heading:   "ストアクレジットをご利用いただけます",
			Body: []string{
				"返品 {{.RMA}} に対して{{.Amount}}のストアクレジットを発行しました{{if .Bonus}}（ボーナス{{.Bonus}}を含む）{{end}}。",
				"現在の残高は{{.Balance}}です。クレジットは {{.Email}} に紐づいています。{{.Shop}} でのお会計時にこのメールアドレスをお使いいただくと、ご注文から差し引かれます。",
				"{{if .Code}}お会計時にコード {{.Code}} を入力することもできます。コードは再表示されないため、このメールを保管してください。{{end}}",
			},
			Action: "返品を見る",
		},
		KindReplacementShipped: {
			Subject:   "{{.RMA}} の交換品を発送しました",
			Preheader: "{{.Carrier}}、追跡番号 {{.Tracking}}。",
			Heading:   "交換品を発送しました",
			Body: []string{
				"{{.Shop}} が返品 {{.RMA}} の交換品として {{.Items}} を発送しました。",
				"配送業者は{{.Carrier}}、追跡番号は {{.Tracking}} です。",
			},
			Action: "返品を見る",
		},
		KindCompleted: {
			Subject:   "返品 {{.RMA}} が完了しました",
			Preheader: "いかがでしたか？ワンクリックでお聞かせください。",
			Heading:   "返品が完了しました",
			Body: []string{
				"返品 {{.RMA}} が完了しました：{{.Total}}（{{.Resolution}}）。{{.Shop}} をご利用いただきありがとうございます。",
			},
			Action: "返品を見る",
		},
	},
}
