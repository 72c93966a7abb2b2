// Package payments collects the fees of service requests: invoices, their
// payment through a [Gateway], refunds, reconciliation with the gateway's
// records, and receipts sealed with the platform's e-seal.
//
// # Flow
//
// [Service.CreateInvoice] makes one invoice per reference (a service
// request's ID; asking again returns the same invoice).
// [Service.Checkout] registers it at the gateway and returns the URL of the
// gateway's checkout page, where the citizen pays. The gateway then calls
// back: [Service.HandleCallback] authenticates the callback through the
// gateway adapter (HMAC-SHA256 over timestamp and body, replay window),
// checks invoice, amount and currency against the invoice and marks it
// paid. The gateway's transaction ID is recorded in the same transaction,
// unique in the store, so a callback delivered twice charges once. The
// functions registered with [Service.OnPaid] are told after the payment is
// durable; [Service.Paid] answers at any time, on any replica.
//
// # Abuse
//
// A callback with a wrong signature, a stale timestamp, an unknown
// invoice, a wrong amount or currency, or a second payment of a paid
// invoice is refused with an error (see the Err values), logged, and
// changes nothing.
//
// # Imports
//
// payments uses the trust core only through platform/seal; it must not
// import api, web or cmd. The sandbox gateway (a separate process, `thiqa
// sandbox-gateway`) and its adapter are in package
// platform/payments/sandbox.
package payments
