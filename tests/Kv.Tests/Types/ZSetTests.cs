using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Types;

/// <summary>Differential tests of the sorted-set commands against redis-server 7.0.15 (raw replies byte for byte).</summary>
public class ZSetTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private const string Scores = """
        ZADD z 1 a 2 b 3 c 1.5 d -1 e 0.1 f 1e20 g -inf h +inf i 2 bb
        ZADD z 0 x 0 y 0 w
        """;

    [Fact]
    public async Task AddOptionsAndScores()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(Scores + """

            ZRANGE z 0 -1 WITHSCORES
            ZADD z NX 10 a 10 new
            ZADD z XX 10 a 10 new2
            ZADD z XX CH 11 a 11 nope
            ZADD z GT 5 b 1 c
            ZADD z GT CH 5 b 1 c 7 c
            ZADD z LT CH 0 b 9 c
            ZADD z XX NX 1 a
            ZADD z GT LT 1 a
            ZADD z NX GT 1 a
            ZADD z INCR 1 a 2 b
            ZADD z INCR 2.5 a
            ZADD z INCR NX 1 a
            ZADD z INCR XX 1 nonexist
            ZADD z INCR GT -100 a
            ZADD z 1 a 2
            ZADD z abc a
            ZADD z nan a
            ZADD z 1e400 a
            ZADD z 1
            ZADD z
            ZADD z CH
            ZADD z INCR inf i
            ZADD z INCR -inf i
            ZADD z INCR +inf h
            ZADD z 0.1 p 0.2 q 0.30000000000000004 r 1e-5 s 123456789012345678 t -0 u 3.14159265358979 v 1e-310 den
            ZRANGE z 0 -1 WITHSCORES
            ZSCORE z a
            ZSCORE z v
            ZSCORE z nope
            ZSCORE noz a
            ZMSCORE z a nope t
            ZMSCORE noz a b
            ZINCRBY z 1.5 a
            ZINCRBY z 1 newmember
            ZINCRBY z x a
            ZINCRBY z 1 i
            ZINCRBY z -inf i
            ZINCRBY noz2 5 m
            ZCARD z
            ZCARD noz
            ZREM z a nope b
            ZREM noz a
            ZREM z
            ZADD one 1 only
            ZREM one only
            EXISTS one
            ZADD xxnew XX 1 a
            EXISTS xxnew
            SET str v
            ZADD str 1 a
            ZSCORE str a
            ZMSCORE str a
            ZINCRBY str 1 a
            ZREM str a
            ZCARD str
            ZRANGE str 0 1
            ZRANK str a
            ZCOUNT str 0 1
            ZLEXCOUNT str - +
            ZPOPMIN str
            ZRANDMEMBER str
            ZSCAN str 0
            ZREMRANGEBYRANK str 0 1
            """);
    }

    [Fact]
    public async Task Ranges()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(Scores + """

            ZRANGE z 0 -1
            ZRANGE z 2 4 WITHSCORES
            ZRANGE z -3 -1 withscores
            ZRANGE z 5 2
            ZRANGE z 0 100 REV
            ZRANGE z 1 3 REV WITHSCORES
            ZREVRANGE z 0 2 WITHSCORES
            ZREVRANGE z -2 -1
            ZRANGE z 0 -1 LIMIT 0 1
            ZRANGE z 0 1 BYLEX WITHSCORES
            ZRANGE z a b FOO
            ZRANGE z x 1
            ZRANGE z (1 3 BYSCORE WITHSCORES
            ZRANGE z 3 (1 BYSCORE REV
            ZRANGE z -inf +inf BYSCORE LIMIT 2 3
            ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2 WITHSCORES
            ZRANGE z -inf +inf BYSCORE LIMIT 2 -1
            ZRANGE z -inf +inf BYSCORE LIMIT -1 2
            ZRANGE z -inf +inf BYSCORE LIMIT 100 2
            ZRANGE z -inf +inf BYSCORE LIMIT 0 0
            ZRANGE z 1 x BYSCORE
            ZRANGE z ( 2 BYSCORE
            ZRANGE z "" 0 BYSCORE
            ZRANGE z " 1" 2 BYSCORE
            ZRANGE z 1e400 inf BYSCORE
            ZRANGE z 2 1 BYSCORE
            ZRANGE z (1 1 BYSCORE
            ZRANGEBYSCORE z 1 2
            ZRANGEBYSCORE z (1 (2 WITHSCORES
            ZRANGEBYSCORE z -inf inf LIMIT 1 3
            ZRANGEBYSCORE z 1 2 LIMIT 1
            ZRANGEBYSCORE z 1 2 REV
            ZRANGEBYSCORE z nan 2
            ZREVRANGEBYSCORE z 2 1 WITHSCORES
            ZREVRANGEBYSCORE z +inf -inf LIMIT 0 3
            ZREVRANGEBYSCORE z (2 -inf
            ZCOUNT z 1 2
            ZCOUNT z (1 (2
            ZCOUNT z -inf +inf
            ZCOUNT z 5 1
            ZCOUNT z a b
            ZCOUNT noz 0 1
            ZRANK z a
            ZRANK z h
            ZRANK z i
            ZRANK z nope
            ZREVRANK z a
            ZREVRANK z i
            ZRANK noz a
            """);
    }

    [Fact]
    public async Task LexRanges()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            ZADD l 0 a 0 b 0 c 0 d 0 e 0 f 0 g 0 aa 0 "" 0 "b\x00"
            ZRANGE l - + BYLEX
            ZRANGE l [b (e BYLEX
            ZRANGE l (b [e BYLEX LIMIT 1 2
            ZRANGE l + - BYLEX REV
            ZRANGE l [e [b BYLEX REV LIMIT 0 2
            ZRANGE l - + BYLEX WITHSCORES
            ZRANGEBYLEX l [a [c
            ZRANGEBYLEX l (a (c
            ZRANGEBYLEX l - [b
            ZRANGEBYLEX l [z +
            ZRANGEBYLEX l [c [a
            ZRANGEBYLEX l a c
            ZRANGEBYLEX l [a +x
            ZRANGEBYLEX l -x +
            ZRANGEBYLEX l [a [c LIMIT 1 1
            ZRANGEBYLEX l 1 2
            ZREVRANGEBYLEX l [c [a
            ZREVRANGEBYLEX l + - LIMIT 2 3
            ZREVRANGEBYLEX l (c -
            ZLEXCOUNT l - +
            ZLEXCOUNT l [b [d
            ZLEXCOUNT l (b (d
            ZLEXCOUNT l [d [b
            ZLEXCOUNT l a b
            ZLEXCOUNT nol - +
            ZREMRANGEBYLEX l [b [c
            ZRANGE l 0 -1
            ZREMRANGEBYLEX l x y
            ZREMRANGEBYLEX nol - +
            ZREMRANGEBYLEX l - +
            EXISTS l
            """);
    }

    [Fact]
    public async Task RemoveRangesAndPops()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(Scores + """

            ZREMRANGEBYRANK z 0 1
            ZREMRANGEBYRANK z -2 -1
            ZREMRANGEBYRANK z 5 2
            ZREMRANGEBYRANK z x 1
            ZREMRANGEBYRANK noz 0 1
            ZRANGE z 0 -1 WITHSCORES
            ZREMRANGEBYSCORE z (1 2
            ZREMRANGEBYSCORE z a b
            ZREMRANGEBYSCORE noz 0 1
            ZRANGE z 0 -1 WITHSCORES
            ZPOPMIN z
            ZPOPMAX z
            ZPOPMIN z 2
            ZPOPMAX z 0
            ZPOPMAX z -1
            ZPOPMAX z x
            ZPOPMIN z 1 2
            ZPOPMIN noz
            ZPOPMIN noz 3
            ZPOPMAX z 100
            EXISTS z
            !skip HELLO 3
            ZADD r 1 a 2 b 3 c
            ZPOPMIN r
            ZPOPMIN r 1
            ZPOPMAX r 5
            ZPOPMIN r 0
            ZADD r 1.5 a 2.25 b
            ZRANGE r 0 -1 WITHSCORES
            ZRANGEBYSCORE r -inf +inf WITHSCORES
            ZSCORE r a
            ZMSCORE r a b nope
            ZINCRBY r 1 a
            ZADD r INCR 1 a
            ZADD r INCR NX 1 a
            ZSCAN r 0
            ZRANDMEMBER r 2 WITHSCORES
            ZUNION 1 r WITHSCORES
            ZSCORE noz a
            ZRANK noz a
            """);
    }

    [Fact]
    public async Task StoreAndAlgebra()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync("""
            ZADD a 1 x 2 y 3 z
            ZADD b 10 y 20 z 30 w
            SADD s y w v
            ZUNIONSTORE u 2 a b
            ZRANGE u 0 -1 WITHSCORES
            ZUNIONSTORE u 2 a b WEIGHTS 2 0.5
            ZRANGE u 0 -1 WITHSCORES
            ZUNIONSTORE u 2 a b AGGREGATE MIN
            ZRANGE u 0 -1 WITHSCORES
            ZUNIONSTORE u 2 a b AGGREGATE max WEIGHTS 1 -1
            ZRANGE u 0 -1 WITHSCORES
            ZUNIONSTORE u 3 a b s
            ZRANGE u 0 -1 WITHSCORES
            OBJECT ENCODING u
            ZINTERSTORE i 2 a b
            ZRANGE i 0 -1 WITHSCORES
            ZINTERSTORE i 3 a b s WEIGHTS 1 2 3
            ZRANGE i 0 -1 WITHSCORES
            ZINTERSTORE i 2 a nob
            EXISTS i
            ZINTERSTORE i 2 a a
            ZRANGE i 0 -1 WITHSCORES
            ZDIFFSTORE df 2 a b
            ZRANGE df 0 -1 WITHSCORES
            ZDIFFSTORE df 2 s a
            ZRANGE df 0 -1 WITHSCORES
            ZDIFFSTORE df 1 nob
            EXISTS df
            ZUNION 2 a b WITHSCORES
            ZUNION 2 a b
            ZINTER 2 a b WITHSCORES
            ZINTER 2 a b AGGREGATE MAX
            ZDIFF 2 a b WITHSCORES
            ZDIFF 2 b a
            ZINTERCARD 2 a b
            ZINTERCARD 2 a b LIMIT 1
            ZINTERCARD 2 a b LIMIT -1
            ZINTERCARD 2 a b WITHSCORES
            ZUNION 0 a
            ZUNIONSTORE u 0 a
            ZUNION 3 a b
            ZUNION x a
            ZUNION 2 a b WEIGHTS 1
            ZUNION 2 a b WEIGHTS 1 x
            ZUNION 2 a b AGGREGATE AVG
            ZUNION 2 a b FOO
            ZUNIONSTORE u 2 a b WITHSCORES
            ZDIFF 2 a b WEIGHTS 1 2
            ZDIFF 2 a b AGGREGATE SUM
            SET str v
            ZUNION 2 a str
            ZUNIONSTORE u 1 str
            ZADD inf1 inf x
            ZADD inf2 -inf x
            ZUNIONSTORE nan 2 inf1 inf2
            ZRANGE nan 0 -1 WITHSCORES
            ZINTERSTORE nan 2 inf1 inf2 WEIGHTS 0 1
            ZRANGE nan 0 -1 WITHSCORES
            ZRANGESTORE rs a 0 -1
            ZRANGE rs 0 -1 WITHSCORES
            ZRANGESTORE rs b (10 +inf BYSCORE
            ZRANGE rs 0 -1 WITHSCORES
            ZRANGESTORE rs b 0 0 REV
            ZRANGE rs 0 -1 WITHSCORES
            ZRANGESTORE rs a [x [y BYLEX
            ZRANGE rs 0 -1 WITHSCORES
            ZRANGESTORE rs a 5 6
            EXISTS rs
            ZRANGESTORE rs noz 0 -1
            ZRANGESTORE rs a 0 -1 WITHSCORES
            ZRANGESTORE rs str 0 -1
            ZRANGESTORE rs a 0
            """);
    }

    [Fact]
    public async Task EncodingsAndBigSets()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        var members = string.Join(' ', Enumerable.Range(0, 128).Select(i => $"{i % 7} m{i}"));
        var longm = new string('m', 65);
        await d.RunAsync($"""
            ZADD z {members}
            OBJECT ENCODING z
            ZRANGE z 0 -1 WITHSCORES
            ZADD z 3 extra
            OBJECT ENCODING z
            ZRANGE z 0 -1 WITHSCORES
            ZRANGE z 50 60 REV WITHSCORES
            ZRANGEBYSCORE z (2 4 LIMIT 3 10 WITHSCORES
            ZREVRANGEBYSCORE z 4 (2 LIMIT 3 10
            ZRANK z m77
            ZREVRANK z m77
            ZCOUNT z 1 3
            ZREM z m0 m1 m2
            ZRANGE z 0 5
            ZREMRANGEBYRANK z 10 20
            ZREMRANGEBYSCORE z 5 5
            ZRANGE z 0 -1 WITHSCORES
            ZCARD z
            OBJECT ENCODING z
            ZADD y 1 {longm}
            OBJECT ENCODING y
            ZADD y2 1 a
            ZADD y2 2 {longm}
            OBJECT ENCODING y2
            ZRANGESTORE y3 y2 0 0
            OBJECT ENCODING y3
            ZUNIONSTORE y4 1 z
            OBJECT ENCODING y4
            ZINTERSTORE y5 2 z z
            OBJECT ENCODING y5
            ZRANGESTORE y6 z 0 -1
            OBJECT ENCODING y6
            ZRANDMEMBER z 1000
            ZRANDMEMBER z 1000 WITHSCORES
            ZRANDMEMBER z 0
            ZRANDMEMBER z x
            ZRANDMEMBER z 1 2
            ZRANDMEMBER z 1 WITHSCORES x
            ZRANDMEMBER z 9223372036854775807 WITHSCORES
            ZRANDMEMBER noz
            ZRANDMEMBER noz 3
            ZSCAN y3 0
            ZSCAN noz 0
            ZSCAN y3 x
            ZSCAN y3 0 MATCH a*
            ZADD sc 1e17 big 100 h 1.5 f -0 nz 2e-5 tiny
            ZSCAN sc 0
            ZRANGE sc 0 -1 WITHSCORES
            """);
        await d.RunAsync("""
            ZPOPMAX z 3
            ZPOPMIN z 3
            """);
    }
}
