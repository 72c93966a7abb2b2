// Package appearance draws the visible signature stamp of a Thiqa PDF
// signature: a form XObject used as the widget's normal appearance (/AP /N).
//
// The stamp is bilingual. It shows the signer's name in Arabic, shaped with
// the harfbuzz port of github.com/go-text/typesetting and laid out right to
// left with the Unicode bidi algorithm, the Latin name, the signing time
// with its zone, the reason and a QR code of the verification URL. Text is
// set in a subset of DejaVu Sans embedded as a Type0 font with a ToUnicode
// CMap, so that copying and text extraction give back the characters that
// were drawn, in logical order.
//
// # Use
//
// [Build] returns a [Stamp]: a list of PDF objects in source form whose
// references to each other are written "{{ref N}}"; the PDF writer numbers
// the objects and replaces the references. Objects[0] is the form XObject.
// Layout adapts to the widget size: the QR code takes one side, the text is
// set as large as fits and shrinks line by line; a line is cut with an
// ellipsis only when it does not fit at the smallest size.
//
// Build is safe for concurrent use and deterministic. The font is parsed
// once per process.
//
// # Font and text extraction
//
// The subset keeps only the glyphs drawn (plus .notdef and the components
// of composite glyphs), renumbered, without hinting instructions. Every
// glyph maps to the exact characters it stands for: the same glyph standing
// for different text gets its own CID. Right-to-left ligatures such as
// lam-alef are drawn as the ligature glyph followed by invisible glyphs,
// one character each, because extractors (poppler, MuPDF, pdf.js) reverse
// right-to-left words character by character and would turn a two-character
// mapping "لا" into "ال". Arabic marks are positioned inside shifted copies
// of their glyphs, so that every glyph of a line sits on its baseline.
//
// Known limits of poppler's pdftotext, not of the stamp: a line that mixes
// directions comes out in an order of poppler's choosing (each word intact),
// and words with harakat may be broken up.
//
// # Imports
//
// This package writes PDF syntax only. It must not import other Thiqa
// packages (signer, ca, hsm, store, api, ...), nor do I/O, nor log.
package appearance
