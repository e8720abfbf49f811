# Imports a C extension module (_decimal) the learning run never loaded.
import decimal

print(decimal.Decimal("1.10") + decimal.Decimal("2.20"))
