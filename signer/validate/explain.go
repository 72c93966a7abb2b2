package validate

import "fmt"

// texts are the explanations of each outcome in English and Arabic.
var texts = map[SubIndication]Text{
	"": {
		EN: "The signature is valid: the signed content is unchanged, the certificate chains to a trusted root and was not revoked when the signature was made.",
		AR: "التوقيع صحيح: المحتوى الموقّع لم يتغير، وشهادة الموقّع مرتبطة بجهة جذر موثوقة ولم تكن ملغاة وقت التوقيع.",
	},
	FormatFailure: {
		EN: "The signature is malformed and cannot be checked.",
		AR: "بنية التوقيع غير سليمة ولا يمكن التحقق منه.",
	},
	HashFailure: {
		EN: "The signed content was altered after signing.",
		AR: "تم تعديل المحتوى الموقّع بعد التوقيع.",
	},
	SigCryptoFailure: {
		EN: "The signature value does not verify with the signer's public key.",
		AR: "قيمة التوقيع لا تتحقق باستخدام المفتاح العام للموقّع.",
	},
	Revoked: {
		EN: "The signer's certificate was revoked before the signature is proven to have been made.",
		AR: "أُلغيت شهادة الموقّع قبل الوقت الذي يثبت فيه إجراء التوقيع.",
	},
	RevokedNoPOE: {
		EN: "The signer's certificate is revoked, and nothing proves the signature was made before the revocation.",
		AR: "شهادة الموقّع ملغاة، ولا يوجد ما يثبت أن التوقيع تم قبل إلغائها.",
	},
	RevokedCANoPOE: {
		EN: "A CA certificate of the signer's chain is revoked, and nothing proves the signature was made before the revocation.",
		AR: "إحدى شهادات الجهات المُصدِرة في سلسلة الموقّع ملغاة، ولا يوجد ما يثبت أن التوقيع تم قبل إلغائها.",
	},
	Expired: {
		EN: "The signature was made after the signer's certificate expired.",
		AR: "تم التوقيع بعد انتهاء صلاحية شهادة الموقّع.",
	},
	NotYetValid: {
		EN: "The signature was made before the signer's certificate became valid.",
		AR: "تم التوقيع قبل بدء صلاحية شهادة الموقّع.",
	},
	OutOfBoundsNoPOE: {
		EN: "The signer's certificate has expired, and no time-stamp proves the signature was made while it was valid.",
		AR: "انتهت صلاحية شهادة الموقّع، ولا يوجد ختم زمني يثبت أن التوقيع تم خلال فترة صلاحيتها.",
	},
	NoCertificateChain: {
		EN: "The signer's certificate does not chain to a trusted root; add the issuer's root certificate as a trust anchor.",
		AR: "لا يمكن ربط شهادة الموقّع بشهادة جذر موثوقة؛ أضف شهادة الجذر للجهة المُصدِرة كمرجع ثقة.",
	},
	NoSigningCertificate: {
		EN: "The signer's certificate is missing or is not the one the signature names.",
		AR: "شهادة الموقّع مفقودة أو ليست الشهادة التي يحددها التوقيع.",
	},
	TryLater: {
		EN: "No usable revocation information was found for a certificate of the chain; validate again online or with long-term validation data.",
		AR: "لم تتوفر معلومات إلغاء صالحة لإحدى شهادات السلسلة؛ أعد التحقق عبر الإنترنت أو مع بيانات التحقق طويل الأمد.",
	},
	SigConstraintsFailure: {
		EN: "The document was changed after this signature in ways a signature does not cover; what is shown is not what was signed.",
		AR: "تم تغيير المستند بعد هذا التوقيع بتعديلات لا يشملها التوقيع؛ ما يُعرض ليس ما تم توقيعه.",
	},
	ChainConstraintsFailure: {
		EN: "A certificate of the chain is not allowed for this use.",
		AR: "إحدى شهادات السلسلة غير مسموح باستخدامها لهذا الغرض.",
	},
	CryptoConstraints: {
		EN: "The signature uses an algorithm that is not supported or no longer acceptable.",
		AR: "يستخدم التوقيع خوارزمية غير مدعومة أو لم تعد مقبولة.",
	},
	TimestampOrderFailure: {
		EN: "The time-stamps of the signature are not in a consistent order.",
		AR: "الأختام الزمنية للتوقيع ليست بترتيب متّسق.",
	},
	SignedDataNotFound: {
		EN: "The document carries no signature.",
		AR: "لا يحتوي المستند على أي توقيع.",
	},
	Generic: {
		EN: "Validation could not be completed.",
		AR: "تعذّر إكمال عملية التحقق.",
	},
}

// explain returns the explanation of a signature's verdict; detail, the
// technical reason, is appended to the English text.
func explain(s *Signature, detail string) Text {
	t, ok := texts[s.SubIndication]
	if !ok {
		t = texts[Generic]
	}
	if s.Indication == TotalPassed {
		t = texts[""]
		if s.Kind == "document-timestamp" {
			t = Text{
				EN: "The document time-stamp is valid: the covered content is unchanged and the time-stamping authority is trusted.",
				AR: "الختم الزمني للمستند صحيح: المحتوى المشمول لم يتغير وجهة الختم الزمني موثوقة.",
			}
		}
	}
	if detail != "" && s.Indication != TotalPassed {
		t.EN += " (" + detail + ")"
	}
	return t
}

// documentText summarises the report.
func documentText(r *Report) Text {
	n := len(r.Signatures)
	switch {
	case n == 0:
		t := texts[r.SubIndication]
		if r.SubIndication == FormatFailure || r.SubIndication == Generic {
			t = Text{EN: "The file could not be read as a PDF document: " + r.Problem, AR: "تعذّرت قراءة الملف كمستند PDF."}
		}
		return t
	case r.Indication == TotalPassed:
		return Text{EN: fmt.Sprintf("All %d signatures are valid.", n), AR: fmt.Sprintf("جميع التوقيعات صحيحة (%d).", n)}
	case r.Indication == TotalFailed:
		return Text{EN: "At least one signature failed validation: do not rely on this document.", AR: "فشل التحقق من توقيع واحد على الأقل: لا تعتمد على هذا المستند."}
	}
	return Text{EN: "At least one signature could not be confirmed; see the reasons given for each signature.", AR: "تعذّر تأكيد توقيع واحد على الأقل؛ راجع الأسباب المذكورة لكل توقيع."}
}
