-- cutover:phase contract
ALTER TABLE orders RENAME TO purchases;
