-- Run once, when the postgres volume is first initialised (docker-entrypoint-initdb.d), as the
-- POSTGRES_USER of compose.yaml: kbbridge's own database next to Synapse's.
CREATE DATABASE kbbridge;
