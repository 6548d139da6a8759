-- tests/recount/oracle.sql - the oracle's figures for every report of examples/apache.yaml.
--
-- Run by standalone.sh as `sqlite3 :memory: < oracle.sql` in a directory holding
-- rows.tsv (written by recount.awk); writes one <report>.tsv per report there: a
-- header row of column names, then the rows in the report's order, tab separated,
-- missing values as empty fields, averages with 17 significant digits. Reports with
-- a limit (top_pages, top_clients) are written whole; the comparison applies it.
-- Plain SQL over the raw rows, independent of abbey's code.
.bail on
.mode tabs
.headers off
.nullvalue ''

CREATE TABLE s(ip TEXT, ts TEXT, method TEXT, path TEXT, status TEXT, bytes TEXT,
               agent TEXT, bot TEXT, img TEXT);
.import rows.tsv s

-- Typed rows; an empty field is a missing value.
CREATE TABLE l AS
SELECT ip,
       CAST(ts AS INTEGER) AS ts,
       NULLIF(method, '') AS method,
       NULLIF(path, '') AS path,
       CAST(status AS INTEGER) AS status,
       CAST(NULLIF(bytes, '') AS INTEGER) AS bytes,
       NULLIF(agent, '') AS agent,
       CAST(bot AS INTEGER) AS bot,
       CAST(img AS INTEGER) AS img
FROM s;

-- The entries' filters.
CREATE VIEW pages_in AS
SELECT * FROM l WHERE status >= 200 AND status < 300 AND method IN ('GET', 'HEAD');
CREATE VIEW bots_in AS SELECT * FROM l WHERE bot = 1;
CREATE VIEW errors_in AS SELECT * FROM l WHERE status >= 400;
CREATE VIEW images_in AS SELECT * FROM l WHERE img = 1;

-- Nearest-rank percentiles: among a group's non-missing byte counts sorted
-- ascending, the k-th with k = max(1, ceil(p * n / 100)); a group without any
-- has none (missing). For integer p, ceil(p * n / 100) = (p * n + 99) / 100 in
-- integer arithmetic.
CREATE TABLE pages_p95 AS
SELECT path, bytes AS p95 FROM (
    SELECT path, bytes, ROW_NUMBER() OVER (PARTITION BY path ORDER BY bytes) AS k,
           COUNT(*) OVER (PARTITION BY path) AS n
    FROM pages_in WHERE bytes IS NOT NULL)
WHERE k = max(1, (95 * n + 99) / 100);

CREATE TABLE images_p90 AS
SELECT status, bytes AS p90 FROM (
    SELECT status, bytes, ROW_NUMBER() OVER (PARTITION BY status ORDER BY bytes) AS k,
           COUNT(*) OVER (PARTITION BY status) AS n
    FROM images_in WHERE bytes IS NOT NULL)
WHERE k = max(1, (90 * n + 99) / 100);

CREATE TABLE pages_t AS
SELECT g.path, g.hits, g.visitors, p.p95
FROM (SELECT path, COUNT(*) AS hits, COUNT(DISTINCT ip) AS visitors
      FROM pages_in GROUP BY path) AS g
LEFT JOIN pages_p95 AS p ON p.path IS g.path;

CREATE TABLE clients_t AS
SELECT ip, COUNT(*) AS hits, COALESCE(SUM(bytes), 0) AS bytes, COUNT(DISTINCT path) AS pages
FROM l GROUP BY ip;

.headers on

.once by_status.tsv
SELECT status, COUNT(*) AS hits, COALESCE(SUM(bytes), 0) AS bytes
FROM l GROUP BY status ORDER BY status;

.once by_method.tsv
SELECT lower(method) AS method, COUNT(*) AS hits,
       iif(AVG(bytes) IS NULL, NULL, printf('%.17g', AVG(bytes))) AS avg_bytes,
       MIN(bytes) AS min_bytes, MAX(bytes) AS max_bytes
FROM l GROUP BY lower(method) ORDER BY lower(method);

.once pages.tsv
SELECT path, hits, visitors, visitors AS exact_visitors, p95 AS p95_bytes
FROM pages_t ORDER BY path;

.once top_pages.tsv
SELECT path, hits, visitors FROM pages_t ORDER BY hits DESC, path;

.once totals.tsv
SELECT COUNT(*) AS hits,
       COALESCE(SUM(bytes), 0) AS bytes,
       COUNT(DISTINCT ip) AS visitors,
       COUNT(DISTINCT ip) AS exact_visitors,
       MIN(bytes) AS min_bytes,
       MAX(bytes) AS max_bytes,
       iif(AVG(bytes) IS NULL, NULL, printf('%.17g', AVG(bytes))) AS avg_bytes,
       (SELECT bytes FROM l WHERE bytes IS NOT NULL ORDER BY bytes LIMIT 1
        OFFSET max(1, (50 * (SELECT COUNT(bytes) FROM l) + 99) / 100) - 1) AS p50_bytes,
       (SELECT bytes FROM l WHERE bytes IS NOT NULL ORDER BY bytes LIMIT 1
        OFFSET max(1, (99 * (SELECT COUNT(bytes) FROM l) + 99) / 100) - 1) AS p99_bytes
FROM l;

.once per_hour.tsv
SELECT strftime('%Y-%m-%dT%H:%M:%SZ', ts - ts % 3600, 'unixepoch') AS hour,
       COUNT(*) AS hits, COALESCE(SUM(bytes), 0) AS bytes, MAX(bytes) AS max_bytes,
       iif(AVG(bytes) IS NULL, NULL, printf('%.17g', AVG(bytes))) AS avg_bytes
FROM l GROUP BY ts - ts % 3600 ORDER BY ts - ts % 3600;

.once clients.tsv
SELECT ip, hits, bytes, pages FROM clients_t ORDER BY ip;

.once top_clients.tsv
SELECT ip, hits, bytes, pages FROM clients_t ORDER BY bytes DESC, ip;

.once bots.tsv
SELECT status, COUNT(*) AS hits, COUNT(DISTINCT ip) AS ips
FROM bots_in GROUP BY status ORDER BY status;

.once errors.tsv
SELECT status, path, COUNT(*) AS hits
FROM errors_in GROUP BY status, path ORDER BY hits DESC, status, path;

.once images.tsv
SELECT g.status, g.hits, g.bytes, p.p90 AS p90_bytes
FROM (SELECT status, COUNT(*) AS hits, COALESCE(SUM(bytes), 0) AS bytes
      FROM images_in GROUP BY status) AS g
LEFT JOIN images_p90 AS p ON p.status = g.status
ORDER BY g.status;
