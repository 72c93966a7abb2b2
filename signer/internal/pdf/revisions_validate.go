package pdf

// This file holds helpers for signature validation (package
// signer/validate): comparing the cross-reference tables of two
// revisions and locating objects in the file.

// XrefEntry describes where the xref puts one object: at a file offset,
// or inside an object stream.
type XrefEntry struct {
	InUse      bool   // false for free or missing entries
	Compressed bool   // in an object stream
	Offset     int64  // file offset, or the object stream's number
	Index      uint32 // index in the object stream
	Gen        uint16
}

// Entry returns the xref entry of object num.
func (rd *Reader) Entry(num uint32) XrefEntry {
	e, ok := rd.xref[num]
	if !ok || e.typ == entryFree {
		return XrefEntry{}
	}
	return XrefEntry{InUse: true, Compressed: e.typ == entryCompressed, Offset: e.off, Index: e.idx, Gen: e.gen}
}

// Limits returns the limits in force (defaults filled in).
func (rd *Reader) Limits() Limits { return rd.lim }
