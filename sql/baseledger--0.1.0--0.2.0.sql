-- baseledger 0.1.0 -> 0.2.0. Version 0.1.0 is released and its script stays
-- as it is; every change to the schema comes in an update script like this
-- one. CREATE EXTENSION baseledger installs 0.1.0 and applies the updates.

\echo Use "ALTER EXTENSION baseledger UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------- security

-- ---------------------------------------------------------------- administration
