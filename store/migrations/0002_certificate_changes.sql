-- A change feed over certificates, so that every replica's OCSP cache
-- drops a response as soon as another replica revokes the certificate.
CREATE SEQUENCE certificate_changes;
ALTER TABLE certificates ADD COLUMN change_seq bigint NOT NULL DEFAULT nextval('certificate_changes');
CREATE INDEX certificates_change_seq ON certificates (change_seq);
