using System.Globalization;
using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Differential;

/// <summary>
/// HINCRBYFLOAT in 80-bit long double as redis-server 7.0.15 (t_hash.c hincrbyfloatCommand, util.c string2ld /
/// ld2string): increments and stored values beyond double range, precision, formatting, and every error text.
/// Raw replies of the same script on both servers are compared byte for byte.
/// </summary>
public class HashFloatDiffTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private async Task Run(string script)
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        await d.RunAsync(script);
    }

    [Fact]
    public Task EdgeValues() => Run("""
        HINCRBYFLOAT h f 1.5
        HINCRBYFLOAT h f 0.1
        HINCRBYFLOAT h f 0.2
        HINCRBYFLOAT h f -1.8
        HINCRBYFLOAT h g 1e400
        HINCRBYFLOAT h g 1
        HINCRBYFLOAT h g -1e400
        HINCRBYFLOAT h g 1e4932
        HINCRBYFLOAT h g 1e4932
        HINCRBYFLOAT h big 1.18973149535723176502e+4932
        HINCRBYFLOAT h big 1e4932
        HINCRBYFLOAT h tiny 1e-4940
        HINCRBYFLOAT h tiny 1e-400
        HINCRBYFLOAT h tiny 1e-17
        HINCRBYFLOAT h tiny 5e-18
        HINCRBYFLOAT h tiny 4e-18
        HINCRBYFLOAT h p 3.0000000000000000001
        HINCRBYFLOAT h p 0.00000000000000001
        HINCRBYFLOAT h q 9223372036854775807
        HINCRBYFLOAT h q 1
        HINCRBYFLOAT h q 18446744073709551616
        HINCRBYFLOAT h r 0x1p3
        HINCRBYFLOAT h r 0x10.8p-1
        HINCRBYFLOAT h r -0
        HINCRBYFLOAT h s -0.0
        HINCRBYFLOAT h s 1.0e+2
        HINCRBYFLOAT h s .5
        HINCRBYFLOAT h s 5.
        HINCRBYFLOAT h s +7
        !sortpairs HGETALL h
        HSET h n 1e400 m 1.18973149535723176502e+4932 o 1e-4940 i inf ni -inf nan nan x abc sp " 1" e ""
        HINCRBYFLOAT h n 1
        HINCRBYFLOAT h n -1e400
        HINCRBYFLOAT h m 1e4932
        HINCRBYFLOAT h m -1e4932
        HINCRBYFLOAT h o 1
        HINCRBYFLOAT h i 1
        HINCRBYFLOAT h ni 1
        HINCRBYFLOAT h nan 1
        HINCRBYFLOAT h x 1
        HINCRBYFLOAT h sp 1
        HINCRBYFLOAT h e 1
        HINCRBYFLOAT h f inf
        HINCRBYFLOAT h f -inf
        HINCRBYFLOAT h f +Infinity
        HINCRBYFLOAT h f nan
        HINCRBYFLOAT h f 1e999999
        HINCRBYFLOAT h f -1e999999
        HINCRBYFLOAT h f 1e-999999
        HINCRBYFLOAT h f abc
        HINCRBYFLOAT h f ""
        HINCRBYFLOAT h f " 1"
        HINCRBYFLOAT h f "1 "
        HINCRBYFLOAT h f 1e
        HINCRBYFLOAT h f 0x
        HINCRBYFLOAT h f 1.2.3
        HINCRBYFLOAT h f
        HINCRBYFLOAT h f 1 2
        SET str v
        HINCRBYFLOAT str f 1
        HINCRBYFLOAT str f inf
        HINCRBYFLOAT str f abc
        HINCRBYFLOAT newh f inf
        EXISTS newh
        HINCRBYFLOAT newh f 2.5
        OBJECT ENCODING newh
        !sortpairs HGETALL h
        """);

    [Fact]
    public async Task LongValuesAndRandomSums()
    {
        await using var d = await DifferentialRunner.StartAsync(pair, output);
        var sb = new StringBuilder();
        // A stored value just under and at string2ld's 5 KiB limit.
        sb.Append("HSET long a ").Append('1', 5119).Append('\n');
        sb.Append("HINCRBYFLOAT long a 1\n");
        sb.Append("HSET long b 0.").Append('1', 5116).Append('\n');
        sb.Append("HINCRBYFLOAT long b 1\n");
        sb.Append("HINCRBYFLOAT long c ").Append('2', 5119).Append('\n');
        sb.Append("HINCRBYFLOAT long c 0.").Append('3', 5117).Append('\n');
        sb.Append("HINCRBYFLOAT long c 0.").Append('3', 5118).Append('\n');
        // Seeded random increments of assorted magnitudes, accumulated on both servers.
        var rng = new Random(4242);
        for (int i = 0; i < 150; i++)
        {
            double mant = rng.NextDouble() * 10 - 5;
            int exp = rng.Next(-25, 25);
            string text = rng.Next(3) switch
            {
                0 => mant.ToString("R", CultureInfo.InvariantCulture) + "e" + exp.ToString(CultureInfo.InvariantCulture),
                1 => (mant * 1000).ToString("F" + rng.Next(0, 20), CultureInfo.InvariantCulture),
                _ => rng.NextInt64(-1_000_000_000_000, 1_000_000_000_000).ToString(CultureInfo.InvariantCulture),
            };
            sb.Append("HINCRBYFLOAT rnd f").Append(i % 7).Append(' ').Append(text).Append('\n');
        }
        sb.Append("!sortpairs HGETALL rnd\n");
        await d.RunAsync(sb.ToString());
    }

    [Fact]
    public Task InsideMultiAndPropagatedForm() => Run("""
        MULTI
        HINCRBYFLOAT m f 10.5
        HINCRBYFLOAT m f 1e400
        HINCRBYFLOAT m f nope
        EXEC
        HGET m f
        HSTRLEN m f
        """);
}
