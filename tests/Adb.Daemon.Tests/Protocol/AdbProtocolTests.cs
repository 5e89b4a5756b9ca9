using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Adb.Protocol;

namespace Adb.Daemon.Tests.Protocol;

/// <summary>Unit tests of the shared protocol library (no peer), plus key-format checks against Debian's adb keygen.</summary>
public class AdbProtocolTests
{
    [Theory]
    [InlineData(AdbCommand.CNXN, "CNXN")]
    [InlineData(AdbCommand.AUTH, "AUTH")]
    [InlineData(AdbCommand.OPEN, "OPEN")]
    [InlineData(AdbCommand.OKAY, "OKAY")]
    [InlineData(AdbCommand.CLSE, "CLSE")]
    [InlineData(AdbCommand.WRTE, "WRTE")]
    [InlineData(AdbCommand.STLS, "STLS")]
    public void Command_Value_IsAsciiLittleEndian(uint command, string letters) =>
        Assert.Equal(letters, Encoding.ASCII.GetString(BitConverter.GetBytes(command)));

    [Theory]
    [InlineData(SyncCommand.STAT, "STAT")] [InlineData(SyncCommand.STA2, "STA2")] [InlineData(SyncCommand.LST2, "LST2")]
    [InlineData(SyncCommand.LIST, "LIST")] [InlineData(SyncCommand.LIS2, "LIS2")] [InlineData(SyncCommand.DENT, "DENT")]
    [InlineData(SyncCommand.DNT2, "DNT2")] [InlineData(SyncCommand.SEND, "SEND")] [InlineData(SyncCommand.RECV, "RECV")]
    [InlineData(SyncCommand.DATA, "DATA")] [InlineData(SyncCommand.DONE, "DONE")] [InlineData(SyncCommand.OKAY, "OKAY")]
    [InlineData(SyncCommand.FAIL, "FAIL")] [InlineData(SyncCommand.QUIT, "QUIT")]
    public void SyncCommand_Value_IsAsciiLittleEndian(uint id, string letters)
    {
        Assert.Equal(letters, Encoding.ASCII.GetString(BitConverter.GetBytes(id)));
        Assert.Equal(letters, SyncCommand.Name(id));
    }

    [Fact]
    public void Header_RoundTrip_ComputesMagicAndByteSum()
    {
        byte[] payload = [1, 2, 250];
        var h = AdbPacketHeader.Create(AdbCommand.WRTE, 7, 9, payload, withChecksum: true);
        Assert.Equal(253u, h.DataCheck);
        Assert.Equal(AdbCommand.WRTE ^ 0xFFFFFFFF, h.Magic);
        byte[] wire = new byte[24];
        h.WriteTo(wire);
        Assert.Equal(h, AdbPacketHeader.Read(wire));
        Assert.Equal(0u, AdbPacketHeader.Create(AdbCommand.WRTE, 7, 9, payload, withChecksum: false).DataCheck);
    }

    [Fact]
    public async Task ReadAsync_BadMagic_Throws()
    {
        var h = new AdbPacketHeader(AdbCommand.CNXN, 0, 0, 0, 0, 0);
        byte[] wire = new byte[24];
        h.WriteTo(wire);
        await Assert.ThrowsAsync<AdbProtocolException>(async () => await AdbPacketIO.ReadAsync(new MemoryStream(wire), AdbVersion.MaxPayload));
    }

    [Fact]
    public async Task ReadAsync_OversizedPayload_Throws()
    {
        var h = AdbPacketHeader.Create(AdbCommand.WRTE, 1, 1, new byte[5000], false);
        byte[] wire = new byte[24 + 5000];
        h.WriteTo(wire);
        await Assert.ThrowsAsync<AdbProtocolException>(async () => await AdbPacketIO.ReadAsync(new MemoryStream(wire), AdbVersion.MaxPayloadV1));
    }

    [Fact]
    public async Task ReadAsync_WrongChecksum_IsAccepted()
    {
        var ms = new MemoryStream();
        await AdbPacketIO.WriteAsync(ms, AdbCommand.CNXN, AdbVersion.Current, AdbVersion.MaxPayload, "host::"u8.ToArray(), withChecksum: false);
        ms.Position = 0;
        var p = await AdbPacketIO.ReadAsync(ms, AdbVersion.MaxPayload);
        Assert.NotNull(p);
        Assert.Equal("host::", Encoding.ASCII.GetString(p.Payload.Span));
        Assert.Null(await AdbPacketIO.ReadAsync(ms, AdbVersion.MaxPayload));
    }

    [Fact]
    public void PublicKey_EncodeDecode_RoundTripsAndSignatureVerifies()
    {
        using var key = AdbKey.Generate();
        Assert.Equal(524, key.PublicKey.Length);
        string line = key.PublicKeyLine("me@box");
        Assert.Equal(700, line.IndexOf(' '));
        byte[] blob = AndroidPublicKey.ParseLine(line, out string comment);
        Assert.Equal("me@box", comment);
        using var pub = AndroidPublicKey.ToRsa(blob);
        byte[] token = AdbKey.NewToken();
        byte[] sig = key.SignToken(token);
        Assert.Equal(256, sig.Length);
        Assert.True(AdbKey.VerifyToken(pub, token, sig));
        token[0] ^= 1;
        Assert.False(AdbKey.VerifyToken(pub, token, sig));
        Assert.Equal(47, key.Fingerprint.Length);
    }

    [Fact]
    public void PublicKey_WrongLen_IsRejected()
    {
        using var key = AdbKey.Generate();
        byte[] blob = (byte[])key.PublicKey.Clone();
        blob[0] = 32;
        Assert.Throws<AdbProtocolException>(() => AndroidPublicKey.Decode(blob));
    }

    [Fact]
    public void AdbKey_LoadDebianKeygenKey_ProducesSamePubFile()
    {
        string dir = Directory.CreateTempSubdirectory("adbkey").FullName;
        try
        {
            string path = Path.Combine(dir, "adbkey");
            var psi = new ProcessStartInfo("adb", ["keygen", path]) { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.Environment["HOME"] = dir;
            using (var p = Process.Start(psi)!) { p.WaitForExit(30000); }
            string debianPub = File.ReadAllText(path + ".pub");
            using var key = AdbKey.Load(path);
            Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(path));
            Assert.Equal(debianPub.Split(' ')[0], key.PublicKeyLine("x").Split(' ')[0]);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Banner_BuildParse_RoundTrips()
    {
        var b = AdbBanner.Device("prod", "Mod el", "dev", AdbFeatures.Daemon);
        string s = b.ToString();
        Assert.Equal("device::ro.product.name=prod;ro.product.model=Mod el;ro.product.device=dev;features=shell_v2,stat_v2,ls_v2,fixed_push_mkdir,fixed_push_symlink_timestamp", s);
        var p = AdbBanner.Parse(Encoding.UTF8.GetBytes(s + "\0"));
        Assert.Equal("device", p.SystemType);
        Assert.Equal("Mod el", p.Get(AdbBanner.ProductModel));
        Assert.True(p.HasFeature(AdbFeatures.LsV2));
        var h = AdbBanner.Parse("host::features=" + string.Join(',', AdbFeatures.Host29));
        Assert.Equal(10, h.Features.Count);
    }

    [Fact]
    public void SyncRecords_HaveExactSizes()
    {
        Assert.Equal(20, SyncDent.V1Done().Length);
        Assert.Equal(76, SyncDent.V2Done().Length);
        Assert.Equal(76 + 3, SyncDent.V2(SyncStatV2.FromError(0), "abc").Length);
        Assert.Equal(20 + 2, SyncDent.V1(0, 0, 0, "é").Length);
        byte[] st = new byte[72];
        var s = new SyncStatV2(2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        s.WriteTo(st, SyncCommand.STA2);
        Assert.Equal(s, SyncStatV2.Read(st, out uint id));
        Assert.Equal(SyncCommand.STA2, id);
        Assert.True(SyncProtocol.TryParseSendSpec("/a,b/c,33188", out string path, out uint mode));
        Assert.Equal("/a,b/c", path);
        Assert.Equal(33188u, mode);
    }

    [Fact]
    public void ShellProtocol_WindowSize_RoundTrips()
    {
        byte[] ws = ShellProtocol.WindowSize(24, 80, 640, 480);
        Assert.True(ShellProtocol.TryParseWindowSize(ws, out int r, out int c, out int x, out int y));
        Assert.Equal((24, 80, 640, 480), (r, c, x, y));
        byte[] p = ShellProtocol.Packet(ShellPacketId.Exit, [3]);
        Assert.Equal((ShellPacketId.Exit, 1u), ShellProtocol.ReadHeader(p));
    }
}
