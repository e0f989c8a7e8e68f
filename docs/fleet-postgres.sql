-- Roles for the unit's fleet database (README, "Fleet"). Run once as the database owner,
-- after the owner created the tables (`evidence-station fleet verify` with the owner's
-- database_url creates them), e.g.  psql -d evidence -f fleet-postgres.sql
--
-- Stations may only append to the mirror: no UPDATE or DELETE on ledger_event or
-- fleet_checkpoint, so a station (or anyone holding its password) cannot rewrite what it
-- already sent. The fleet catalog and object records are projections they keep current.
-- Auditors read everything and write nothing.
do $$ begin
    if not exists (select from pg_roles where rolname = 'fleet_station') then
        create role fleet_station nologin;
    end if;
    if not exists (select from pg_roles where rolname = 'fleet_auditor') then
        create role fleet_auditor nologin;
    end if;
end $$;
revoke all on ledger_event, fleet_checkpoint, fleet_alarm, fleet_station, fleet_clip, fleet_object
    from public;
grant select, insert on ledger_event, fleet_checkpoint, fleet_alarm, fleet_station to fleet_station;
grant usage on sequence fleet_alarm_id_seq to fleet_station;
grant select, insert, update on fleet_clip, fleet_object to fleet_station;
grant select on ledger_event, fleet_checkpoint, fleet_alarm, fleet_station, fleet_clip, fleet_object
    to fleet_auditor;
-- then one login role per station, for example:
--   create role station01 login password '…' in role fleet_station;
