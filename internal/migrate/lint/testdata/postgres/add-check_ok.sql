-- Validating an existing NOT VALID constraint does not block writes.
ALTER TABLE products VALIDATE CONSTRAINT price_positive;
