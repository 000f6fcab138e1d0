"""The sandbox: everything that plays the outside world for the demo, the tests and dry runs.

In the spirit of panoramisk's `testing` module, and public: `pbx` (a sample FreePBX history, its
`cdr` table and recordings), `standin` (a 1C publication stand-in), `crm` (the 1C CRM sample
data) and `ami` (an Asterisk AMI double and the live stack on loopback). `cdr1c demo`,
`cdr1c standin` and the tests use it; no production module under etl/ imports it
(tests/test_sandbox.py checks that).
"""
