// Package catalogue is the catalogue of government services that citizens
// can request through Thiqa: for each service its code, agency, names and
// descriptions in Arabic and English, fee in fils, channel (online or at a
// centre), required documents, and whether the request needs the citizen's
// signature and the result the agency's e-seal.
//
// # Lookup and search
//
// [Catalogue.Service] finds a service by code (what package
// platform/requests asks for). [Catalogue.Search] matches text in both
// languages after [Normalize] (Arabic alef variants, ta marbuta, alef
// maqsura, diacritics and tatweel; Latin case) and filters by agency; the
// whole catalogue (a few thousand services) is kept in memory and reloaded
// when [Store.CatalogueVersion] changes, so replicas see each other's
// imports.
//
// # Import and export
//
// [Decode] reads CSV (a header row naming the columns) or JSONL (one JSON
// object a line) and checks every record, reporting errors with their line
// numbers; [Catalogue.Import] then upserts by code in one transaction, so
// importing the same file again changes nothing. [Catalogue.Export] writes
// the same formats back.
//
// # Imports
//
// catalogue uses only the store's records; it must not import api, web,
// cmd or the trust core's services (ca, signer, enrollment, signing).
package catalogue
