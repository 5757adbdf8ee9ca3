-- Grafana's ClickHouse user for the docker-compose stack (current ClickHouse; run once by the image's
-- entrypoint from /docker-entrypoint-initdb.d, as CLICKHOUSE_USER). Read-only: `readonly = 2` (reads,
-- and the settings the Grafana plugin sends, but never `readonly` itself) and `allow_ddl = 0`, both
-- CONST so a query cannot lift them; SELECT on tokenwatch's database only. Without CREATE TEMPORARY
-- TABLE and the source grants (READ ON URL, FILE, REMOTE…) no table function runs: no url(), file(),
-- remote(). The local 18.16 stack defines the same user in users.xml (tools/local-stack/clickhouse-server.ts).
-- The password is for this local stack only, as in dashboards/provisioning/datasources/tokenwatch.yaml.
CREATE SETTINGS PROFILE OR REPLACE dashboards SETTINGS readonly = 2 CONST, allow_ddl = 0 CONST, max_execution_time = 60;
CREATE USER OR REPLACE grafana IDENTIFIED WITH sha256_password BY 'grafana' SETTINGS PROFILE 'dashboards';
GRANT SELECT ON tokenwatch.* TO grafana;
