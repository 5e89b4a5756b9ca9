using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>String commands: same script to redis-server 7.0.15 and kv-server, raw replies compared.</summary>
public class StringDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private async Task Run(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    [Fact]
    public Task GetSetBasics() => Run("""
        GET nosuch
        SET k v
        GET k
        SET k ""
        GET k
        STRLEN k
        SET k "binary \x00\xff\r\n value"
        GET k
        STRLEN k
        SET k v extra
        SET k
        GET
        GET a b
        SET k v NX
        SET k2 v NX
        SET k3 v XX
        SET k v XX
        GET k
        SET k v NX XX
        SET k v XX NX
        SET k new GET
        SET nokey val GET
        SET k v2 NX GET
        SET k3 v NX GET
        GET k3
        SET k v KEEPTTL
        SET k v EX 100 KEEPTTL
        SET k v PX 100 EX 100
        SET k v EX 0
        SET k v EX -1
        SET k v PX 0
        SET k v EX abc
        SET k v EX 1.5
        SET k v EX
        SET k v EXAT 0
        SET k v PXAT -5
        SET k v EX 9223372036854775807
        SET k v PX 9223372036854775807
        SET k v EX 92233720368547758
        SET k v EXAT 9223372036854775807
        SET k v FOO
        SET k v ex 100
        TTL k
        SET k v px 100000
        !approx 100 PTTL k
        SET k v EXAT 4102444800
        # TTL rounds to the nearest second: two servers asked microseconds apart can straddle a half second.
        !approx 1 TTL k
        EXPIRETIME k
        SET k v PXAT 4102444800123
        PEXPIRETIME k
        SET k v2 KEEPTTL
        PEXPIRETIME k
        GET k
        SET k v3
        TTL k
        SETNX k x
        SETNX newk x
        SETNX newk
        GET newk
        """);

    [Fact]
    public Task SetExVariants() => Run("""
        SETEX k 100 v
        TTL k
        SETEX k 0 v
        SETEX k -10 v
        SETEX k abc v
        SETEX k 100
        PSETEX k 100000 v
        !approx 100 PTTL k
        PSETEX k 0 v
        PSETEX k -1 v
        PSETEX k 9223372036854775807 v
        SETEX k 9223372036854775807 v
        SETEX k 922337203685477580 v
        GETSET k new
        GETSET nokey new
        GET nokey
        TTL nokey
        GETSET k
        GETDEL k
        GETDEL k
        GETDEL
        SET k v EX 100
        GETEX k
        TTL k
        GETEX k PERSIST
        TTL k
        GETEX k EX 50
        TTL k
        GETEX k PX 50000
        !approx 100 PTTL k
        GETEX k EXAT 4102444800
        !approx 1 TTL k
        GETEX k PXAT 4102444800000
        !approx 1 TTL k
        GETEX k EX 0
        GETEX k EX -1
        GETEX k PX 0
        GETEX k EX 10 PX 10
        GETEX k PERSIST EX 10
        GETEX k FOO
        GETEX k EX
        GETEX k EX notanumber
        GETEX nokey EX 10
        GETEX nokey PERSIST
        GETEX k EXAT 1
        GET k
        EXISTS k
        """);

    [Fact]
    public Task Counters() => Run("""
        INCR c
        INCR c
        DECR c
        INCRBY c 10
        DECRBY c 3
        INCRBY c -20
        DECRBY c -5
        GET c
        INCRBY c abc
        INCRBY c 1.5
        INCRBY c ""
        INCRBY c " 1"
        INCRBY c "1 "
        INCRBY c +1
        INCRBY c 01
        INCRBY c -0
        GET c
        SET c 9223372036854775806
        INCR c
        INCR c
        GET c
        SET c -9223372036854775808
        DECR c
        DECRBY c 1
        SET c 5
        DECRBY c -9223372036854775808
        INCRBY c 9223372036854775807
        INCRBY c 9223372036854775808
        SET c 1.5
        INCR c
        SET c "  3"
        INCR c
        SET c 12345678901234567890
        INCR c
        SET c abc
        INCR c
        DECR c
        SET c ""
        INCR c
        SET c 007
        INCR c
        SET c -0
        INCR c
        SET c 10
        INCR c extra
        INCR
        INCRBY c
        DECRBY c 1 2
        INCRBYFLOAT f 1.5
        INCRBYFLOAT f 2.25
        INCRBYFLOAT f -0.75
        INCRBYFLOAT f 1e3
        INCRBYFLOAT f 5.0e-3
        GET f
        INCRBYFLOAT f abc
        INCRBYFLOAT f ""
        INCRBYFLOAT f inf
        INCRBYFLOAT f -inf
        INCRBYFLOAT f nan
        INCRBYFLOAT f 1e400
        INCRBYFLOAT f 0x10
        INCRBYFLOAT f " 1"
        SET f 10
        INCRBYFLOAT f 0.1
        INCRBYFLOAT f 3.0e3
        INCRBYFLOAT f -10.1
        GET f
        SET f 1.7976931348623157e308
        INCRBYFLOAT f 1.7976931348623157e308
        SET f abc
        INCRBYFLOAT f 1
        SET f 3
        INCRBYFLOAT f 0.0000001
        INCRBYFLOAT f 1000000000000000000000
        SET f 5
        INCRBYFLOAT f 5
        INCRBYFLOAT f -10
        INCRBYFLOAT f 1.0
        INCRBYFLOAT f 100000000000000000
        GET f
        INCRBYFLOAT g 0.1
        INCRBYFLOAT g 0.2
        INCRBYFLOAT h 1.23456789012345678
        INCRBYFLOAT h2 -1.5e-10
        INCRBYFLOAT h3 123456789012345678901234567890
        """);

    [Fact]
    public Task AppendRanges() => Run("""
        APPEND a hello
        APPEND a " world"
        GET a
        APPEND a ""
        STRLEN a
        STRLEN nosuch
        SET n 123
        APPEND n 456
        GET n
        GETRANGE a 0 4
        GETRANGE a -5 -1
        GETRANGE a 0 -1
        GETRANGE a 5 3
        GETRANGE a -100 100
        GETRANGE a 100 200
        GETRANGE a -1 -5
        GETRANGE a 0 0
        GETRANGE a 3 -100
        GETRANGE nosuch 0 10
        GETRANGE a x 1
        GETRANGE a 0 1 2
        GETRANGE a 9223372036854775807 9223372036854775807
        GETRANGE a -9223372036854775808 5
        SUBSTR a 1 3
        SET e ""
        GETRANGE e 0 -1
        GETRANGE e 0 0
        SETRANGE a 6 WORLD
        GET a
        SETRANGE a 20 xyz
        GET a
        STRLEN a
        SETRANGE newkey 3 abc
        GET newkey
        SETRANGE empty 0 ""
        EXISTS empty
        SETRANGE empty2 5 ""
        EXISTS empty2
        SETRANGE a -1 x
        SETRANGE a 536870912 x
        SETRANGE a 0 ""
        SETRANGE a abc x
        SETRANGE a 0
        LPUSH list x
        APPEND list x
        GETRANGE list 0 1
        SETRANGE list 0 x
        STRLEN list
        GET list
        INCR list
        INCRBYFLOAT list 1
        GETSET list x
        GETDEL list
        GETEX list
        SETRANGE list 0 ""
        """);

    [Fact]
    public Task MultiKey() => Run("""
        MSET a 1 b 2 c 3
        MGET a b c nosuch
        MGET a
        MGET
        MSET a
        MSET a 1 b
        MSET a 1 a 2
        GET a
        MSETNX x 1 y 2
        MSETNX x 1 z 3
        MGET x y z
        MSETNX a
        MSETNX q 1 q 2
        GET q
        LPUSH l 1
        MGET a l b
        MSET l str
        TYPE l
        """);

    [Fact]
    public Task LargeValues() => Run("""
        SETRANGE big 1000000 x
        STRLEN big
        GETRANGE big 999990 -1
        APPEND big yz
        STRLEN big
        GETRANGE big -3 -1
        SET s 0123456789
        GETRANGE s 2 4
        """);
}
