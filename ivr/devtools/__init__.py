"""Development aids, apart from the product: generated demonstration traffic
(``hotline seed-demo``) and a throwaway PostgreSQL for tests and benchmarks. The running hotline
never imports this package."""
