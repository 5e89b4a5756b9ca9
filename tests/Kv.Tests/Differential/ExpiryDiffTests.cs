using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>
/// Expiry commands. Relative TTLs are compared with a tolerance (the two servers run the step a few ms apart);
/// absolute times (EXPIREAT/PEXPIREAT far in the future, EXPIRETIME) are compared exactly.
/// </summary>
public class ExpiryDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private async Task Run(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    [Fact]
    public Task ExpireFamily() => Run("""
        SET k v
        TTL k
        PTTL k
        TTL nosuch
        PTTL nosuch
        EXPIRETIME k
        PEXPIRETIME k
        EXPIRETIME nosuch
        EXPIRE k 100
        TTL k
        !approx 100 PTTL k
        EXPIRE nosuch 100
        EXPIRE k abc
        EXPIRE k 1.5
        EXPIRE k ""
        EXPIRE k
        EXPIRE k 100 NX
        EXPIRE k 200 XX
        TTL k
        EXPIRE k 50 GT
        EXPIRE k 500 GT
        TTL k
        EXPIRE k 1000 LT
        EXPIRE k 10 LT
        TTL k
        EXPIRE k 10 NX XX
        EXPIRE k 10 GT LT
        EXPIRE k 10 NX GT
        EXPIRE k 10 FOO
        EXPIRE k 10 nx
        PERSIST k
        PERSIST k
        PERSIST nosuch
        EXPIRE k 10 XX
        EXPIRE k 10 GT
        EXPIRE k 10 LT
        TTL k
        EXPIRE k 10 NX
        PEXPIRE k 100000
        !approx 100 PTTL k
        PEXPIRE k 100000 NX
        PEXPIRE k abc
        EXPIREAT k 4102444800
        # TTL rounds to the nearest second: two servers asked microseconds apart can straddle a half second.
        !approx 1 TTL k
        EXPIRETIME k
        PEXPIRETIME k
        PEXPIREAT k 4102444800555
        PEXPIRETIME k
        EXPIRETIME k
        EXPIREAT k 4102444801 GT
        EXPIREAT k 4102444700 GT
        EXPIRETIME k
        EXPIREAT k 4102444700 LT
        EXPIRETIME k
        PEXPIREAT k 4102444700001 XX
        PEXPIRETIME k
        EXPIRE k 9223372036854775807
        EXPIRE k 9223372036854775
        EXPIRE k 92233720368547758
        PEXPIRE k 9223372036854775807
        PEXPIRE k 9223372036854770000
        EXPIREAT k 9223372036854775807
        PEXPIREAT k 9223372036854775807
        EXPIRE k -9223372036854775808
        PEXPIREAT k -9223372036854775808
        SET k v
        EXPIRE k 0
        EXISTS k
        SET k v
        EXPIRE k -1
        GET k
        SET k v
        PEXPIRE k -100
        GET k
        SET k v
        EXPIREAT k 1
        GET k
        SET k v
        PEXPIREAT k 0
        GET k
        SET k v
        EXPIREAT k 100 GT
        GET k
        """);

    [Fact]
    public Task ExpiredKeysVanish() => Run("""
        SET a 1 PX 30
        SET b 1 PX 30
        RPUSH l 1
        PEXPIRE l 30
        HSET h f v
        PEXPIRE h 30
        SET keep 1
        !sleep 120
        GET a
        EXISTS b
        LLEN l
        TYPE h
        DBSIZE
        !sort KEYS *
        SET c 1 PX 1
        !sleep 20
        TTL c
        PTTL c
        EXPIRETIME c
        SET t 1 EX 100
        SET t 2
        TTL t
        SET t 3 EX 100
        APPEND t x
        TTL t
        INCR n
        EXPIRE n 100
        INCR n
        TTL n
        SET t 4 EX 100
        GETSET t x
        TTL t
        SET t 5 EX 100
        RENAME t t2
        TTL t2
        SET d 1 EX 100
        SET d 1 KEEPTTL
        TTL d
        SETRANGE d 0 x
        TTL d
        """);
}
