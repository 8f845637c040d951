-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d): each
-- service has a database of its own, owned by the compose user (POSTGRES_USER).
CREATE DATABASE casebook_case;
CREATE DATABASE casebook_notify;
