using System.Security.Cryptography;
using System.Text;

namespace Adb.Protocol;

/// <summary>
/// The host's RSA-2048 key pair: <c>~/.android/adbkey</c> (PKCS#8 PEM, "-----BEGIN PRIVATE KEY-----", mode 0600)
/// and <c>adbkey.pub</c> (<see cref="AndroidPublicKey"/> text, no trailing newline). Also token signing and
/// verification as adb does it (AOSP <c>adb_auth_sign</c>: <c>RSA_sign(NID_sha1, token)</c>, the 20-byte token
/// taken as an already-computed SHA-1 digest and wrapped in a PKCS#1 v1.5 DigestInfo).
/// </summary>
public sealed class AdbKey : IDisposable
{
    /// <summary>Size of an AUTH token: 20 bytes (<c>TOKEN_SIZE</c>). Other sizes crash Debian's adb 29.0.6 server.</summary>
    public const int TokenSize = 20;

    /// <summary>Size of a signature with an RSA-2048 key: 256 bytes.</summary>
    public const int SignatureSize = 256;

    /// <summary>The private key.</summary>
    public RSA Rsa { get; }

    /// <summary>The 524-byte Android encoding of the public key.</summary>
    public byte[] PublicKey { get; }

    /// <summary>MD5 fingerprint of <see cref="PublicKey"/> (see <see cref="AndroidPublicKey.Fingerprint"/>).</summary>
    public string Fingerprint { get; }

    /// <summary>Wraps an existing RSA-2048 private key.</summary>
    /// <param name="rsa">The key; owned by this object afterwards.</param>
    /// <exception cref="ArgumentException">Not a 2048-bit key.</exception>
    public AdbKey(RSA rsa)
    {
        if (rsa.KeySize != 2048) throw new ArgumentException($"adb keys are RSA-2048, got {rsa.KeySize} bits", nameof(rsa));
        Rsa = rsa;
        PublicKey = AndroidPublicKey.Encode(rsa);
        Fingerprint = AndroidPublicKey.Fingerprint(PublicKey);
    }

    /// <summary>Generates a new RSA-2048 key with e = 65537.</summary>
    /// <returns>The new key.</returns>
    public static AdbKey Generate() => new(RSA.Create(2048));

    /// <summary>Loads a private key file (PKCS#8 or PKCS#1 PEM).</summary>
    /// <param name="path">Path of <c>adbkey</c>.</param>
    /// <returns>The key.</returns>
    /// <exception cref="AdbProtocolException">The file holds no usable RSA-2048 PEM key.</exception>
    public static AdbKey Load(string path)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(File.ReadAllText(path));
            return new AdbKey(rsa);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
            throw new AdbProtocolException($"cannot load adb private key '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Loads <paramref name="privateKeyPath"/>, creating it (mode 0600, parent folder 0750) when missing, and writes
    /// <c>privateKeyPath + ".pub"</c> when missing. Files are written to a temp name then renamed.
    /// </summary>
    /// <param name="privateKeyPath">Path of <c>adbkey</c>, e.g. <c>~/.android/adbkey</c>.</param>
    /// <param name="comment">Comment for the .pub file; null gives <see cref="DefaultComment"/>.</param>
    /// <returns>The key.</returns>
    public static AdbKey LoadOrCreate(string privateKeyPath, string? comment = null)
    {
        AdbKey key;
        if (File.Exists(privateKeyPath)) key = Load(privateKeyPath);
        else
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(privateKeyPath));
            if (dir is not null && !Directory.Exists(dir))
            {
                Directory.CreateDirectory(dir);
                if (!OperatingSystem.IsWindows())
                    File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                              UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
            }
            key = Generate();
            WriteAtomically(privateKeyPath, key.Rsa.ExportPkcs8PrivateKeyPem() + "\n", privateFile: true);
        }
        string pub = privateKeyPath + ".pub";
        if (!File.Exists(pub)) WriteAtomically(pub, key.PublicKeyLine(comment ?? DefaultComment()), privateFile: false);
        return key;
    }

    /// <summary>The <c>adbkey.pub</c> text: base64 of <see cref="PublicKey"/>, a space, the comment; no newline.</summary>
    /// <param name="comment">Usually "user@host".</param>
    /// <returns>The line.</returns>
    public string PublicKeyLine(string comment) => AndroidPublicKey.FormatLine(PublicKey, comment);

    /// <summary>The AUTH RSAPUBLICKEY payload: <see cref="PublicKeyLine"/> as UTF-8 plus a terminating NUL.</summary>
    /// <param name="comment">Usually "user@host".</param>
    /// <returns>The payload bytes (about 710 bytes).</returns>
    public byte[] AuthPublicKeyPayload(string comment) => Encoding.UTF8.GetBytes(PublicKeyLine(comment) + "\0");

    /// <summary>"user@host" from <c>$LOGNAME</c>/user name and <c>$HOSTNAME</c>/host name, as adb writes it.</summary>
    /// <returns>The comment.</returns>
    public static string DefaultComment()
    {
        string user = Environment.GetEnvironmentVariable("LOGNAME") ?? Environment.UserName;
        string host = Environment.GetEnvironmentVariable("HOSTNAME") ?? Environment.MachineName;
        if (string.IsNullOrEmpty(user)) user = "unknown";
        if (string.IsNullOrEmpty(host)) host = "unknown";
        return user + "@" + host;
    }

    /// <summary>Signs an AUTH token: PKCS#1 v1.5 over the token taken as a SHA-1 digest (no further hashing).</summary>
    /// <param name="token">The 20-byte token from AUTH(TOKEN).</param>
    /// <returns>The 256-byte signature for AUTH(SIGNATURE).</returns>
    /// <exception cref="AdbProtocolException">The token is not 20 bytes.</exception>
    public byte[] SignToken(ReadOnlySpan<byte> token)
    {
        if (token.Length != TokenSize) throw new AdbProtocolException($"AUTH token must be {TokenSize} bytes, got {token.Length}");
        return Rsa.SignHash(token.ToArray(), HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1);
    }

    /// <summary>Checks an AUTH signature against a public key (adbd side).</summary>
    /// <param name="publicKey">The signer's public key.</param>
    /// <param name="token">The 20-byte token that was sent.</param>
    /// <param name="signature">The AUTH(SIGNATURE) payload.</param>
    /// <returns>True when the signature is valid; false otherwise (never throws for bad input).</returns>
    public static bool VerifyToken(RSA publicKey, ReadOnlySpan<byte> token, ReadOnlySpan<byte> signature)
    {
        if (token.Length != TokenSize || signature.Length == 0) return false;
        try { return publicKey.VerifyHash(token, signature, HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1); }
        catch (CryptographicException) { return false; }
    }

    /// <summary>Creates a random 20-byte token (adbd side).</summary>
    /// <returns>20 random bytes.</returns>
    public static byte[] NewToken() => RandomNumberGenerator.GetBytes(TokenSize);

    /// <summary>Disposes the RSA key.</summary>
    public void Dispose() => Rsa.Dispose();

    private static void WriteAtomically(string path, string text, bool privateFile)
    {
        string tmp = path + ".tmp" + Environment.ProcessId;
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = privateFile ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        using (var fs = new FileStream(tmp, options))
        {
            fs.Write(Encoding.UTF8.GetBytes(text));
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
