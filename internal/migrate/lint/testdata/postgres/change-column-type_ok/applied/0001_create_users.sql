CREATE TYPE user_status AS ENUM ('active', 'suspended', 'deleted');
CREATE TABLE users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL,
  name varchar(50),
  bio text,
  views integer NOT NULL DEFAULT 0,
  phone varchar(20),
  status user_status NOT NULL DEFAULT 'active',
  price numeric(10, 2)
);
