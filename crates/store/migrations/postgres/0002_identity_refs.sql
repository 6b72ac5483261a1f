-- Imports recompute only the records an observation can change: those sharing its name and its
-- repo digest or image id. digest_ref and id_ref are `<name>@<repo digest>` and
-- `<name>@<image id>`, the two record ids an observation can belong to.
ALTER TABLE observations ADD COLUMN digest_ref TEXT;
ALTER TABLE observations ADD COLUMN id_ref TEXT;

UPDATE observations
SET digest_ref = name || '@' || (body::jsonb ->> 'repo_digest')
WHERE body::jsonb ->> 'repo_digest' IS NOT NULL;
UPDATE observations
SET id_ref = name || '@' || (body::jsonb ->> 'image_id')
WHERE body::jsonb ->> 'image_id' IS NOT NULL;

CREATE INDEX observations_by_digest_ref ON observations (org_id, digest_ref);
CREATE INDEX observations_by_id_ref ON observations (org_id, id_ref);
DROP INDEX observations_by_name;
DROP INDEX images_by_name;
